"""Sequential's fusion of dense runs (Module._fusion + F.dense_chain) matches the layers
run one by one, and never skips user code."""

from __future__ import annotations

import numpy as np
import pytest
from dlx_testing import assert_close

import dlx
from dlx import nn


def _cnn(dtype):
    m = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 3, 3, stride=2),
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(3 * 2 * 2, 5),
        nn.ReLU(),
        nn.Identity(),
        nn.Linear(5, 3),
    )
    return m.to(dtype)


@pytest.mark.parametrize("batch", [0, 1, 3])
def test_sequential_infer_matches_graph_path(rng, dtype, batch):
    dlx.manual_seed(0)
    model = _cnn(dtype)
    model.eval()
    x = dlx.from_numpy(rng.standard_normal((batch, 2, 11, 11)).astype(dtype))
    with dlx.no_grad():
        fast = model(x)
    slow = model(x)
    assert not fast.requires_grad
    assert fast.dtype == slow.dtype
    assert fast.shape == (batch, 3)
    assert_close(fast.numpy(), slow.detach().numpy(), rtol=1e-12, atol=0)


def test_sequential_infer_falls_back_for_hooks_and_training_dropout(rng):
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.ReLU())
    seen = []
    model[2].register_forward_hook(lambda m, args, out: seen.append(out.shape))
    x = dlx.from_numpy(rng.standard_normal((6, 4)).astype(np.float32))
    with dlx.no_grad():
        y = model(x)  # training mode: dropout stops the fast path, the hook still runs
    assert seen == [(6, 4)]
    assert (y.numpy() == 0).any()


def test_sequential_infer_errors_match_graph_path(rng):
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    x = dlx.from_numpy(rng.standard_normal((2, 5)).astype(np.float32))
    with pytest.raises(ValueError, match="in_features") as slow:
        model(x)
    with dlx.no_grad(), pytest.raises(ValueError, match="in_features") as fast:
        model(x)
    assert str(fast.value) == str(slow.value)
    conv = nn.Sequential(nn.Conv2d(1, 2, 5))
    small = dlx.from_numpy(np.zeros((1, 1, 3, 3), np.float32))
    with dlx.no_grad(), pytest.raises(ValueError, match="conv2d"):
        conv(small)


def _mlp(dtype):
    return nn.Sequential(
        nn.Linear(20, 16),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(16, 16),
        nn.Identity(),
        nn.ReLU(),
        nn.Linear(16, 4),
        nn.Linear(4, 3),
    ).to(dtype)


def _count_chain_calls(monkeypatch):
    calls = []
    real = dlx._core.dense_chain_forward
    monkeypatch.setattr(
        dlx._core, "dense_chain_forward", lambda *a: calls.append(len(a[1])) or real(*a)
    )
    return calls


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("batch", [1, 5])
def test_dense_run_is_one_call_with_identical_results(rng, dtype, monkeypatch, threads, batch):
    model = _mlp(dtype)
    model.eval()
    x = dlx.from_numpy(rng.standard_normal((batch, 20)).astype(dtype))
    calls = _count_chain_calls(monkeypatch)
    before = dlx.get_num_threads()
    try:
        dlx.set_num_threads(threads)
        with dlx.no_grad():
            fast = model(x).numpy()
        slow = model(x).detach().numpy()  # parameters require grad: layer by layer
    finally:
        dlx.set_num_threads(before)
    assert calls == [4]  # all four Linear layers in one C++ call, once
    np.testing.assert_array_equal(fast, slow)  # the same kernels: bit for bit


def test_dense_run_stops_at_a_hook_and_resumes(rng, monkeypatch):
    model = _mlp(np.float32)
    model.eval()
    seen = []
    model[3].register_forward_hook(lambda m, args, out: seen.append(out.shape))
    x = dlx.from_numpy(rng.standard_normal((2, 20)).astype(np.float32))
    calls = _count_chain_calls(monkeypatch)
    with dlx.no_grad():
        fast = model(x).numpy()
    assert seen == [(2, 16)]
    assert calls == [2]  # Linear(16, 4) + Linear(4, 3) after the hooked layer
    np.testing.assert_array_equal(fast, model(x).detach().numpy())


def test_subclass_of_linear_is_fused_unless_it_overrides_forward(rng, monkeypatch):
    class Plain(nn.Linear):
        pass

    class Doubled(nn.Linear):
        def forward(self, input):
            return super().forward(input) * 2

    x = dlx.from_numpy(rng.standard_normal((3, 4)).astype(np.float32))
    calls = _count_chain_calls(monkeypatch)
    plain = nn.Sequential(Plain(4, 4), nn.ReLU(), Plain(4, 2))
    with dlx.no_grad():
        out = plain(x)
    assert calls == [2]
    np.testing.assert_array_equal(out.numpy(), plain[2](plain[1](plain[0](x))).detach().numpy())
    calls.clear()
    doubled = nn.Sequential(Doubled(4, 4), nn.ReLU(), Doubled(4, 2))
    with dlx.no_grad():
        out = doubled(x)
    assert calls == []  # user code runs
    ref = doubled[2](doubled[1](doubled[0](x)))
    np.testing.assert_array_equal(out.numpy(), ref.detach().numpy())


def test_training_graph_is_not_fused_and_gradients_flow(rng, monkeypatch):
    model = _mlp(np.float64)
    model.eval()
    calls = _count_chain_calls(monkeypatch)
    x = dlx.tensor(rng.standard_normal((2, 20)))
    model(x).sum().backward()
    assert calls == []
    assert all(p.grad is not None for p in model.parameters())
    for p in model.parameters():
        p.requires_grad_(False)
    x = dlx.tensor(rng.standard_normal((2, 20)), requires_grad=True)
    model(x).sum().backward()  # the input needs a gradient: still layer by layer
    assert calls == []
    assert x.grad is not None
    with dlx.no_grad():
        model(x)
    assert calls == [4]


def test_dense_chain_function_checks_and_falls_back(rng):
    x = dlx.from_numpy(rng.standard_normal((2, 3)).astype(np.float32))
    w = dlx.from_numpy(rng.standard_normal((4, 3)).astype(np.float32))
    with pytest.raises(ValueError, match="one entry per layer"):
        nn.functional.dense_chain(x, [w], [], [True])
    bad = dlx.from_numpy(rng.standard_normal((4, 5)).astype(np.float32))
    with dlx.no_grad(), pytest.raises(ValueError, match="in_features"):
        nn.functional.dense_chain(x, [w, bad], [None, None], [True, False])
    x3 = dlx.from_numpy(rng.standard_normal((2, 2, 3)).astype(np.float32))
    with dlx.no_grad():
        out = nn.functional.dense_chain(x3, [w], [None], [True])  # 3-D: layer by layer
    np.testing.assert_array_equal(out.numpy(), nn.functional.relu(x3 @ w.T).numpy())


def test_dense_chain_forward_rejects_bad_arguments(rng):
    x = rng.standard_normal((1, 4)).astype(np.float32)
    w1 = rng.standard_normal((3, 4)).astype(np.float32)
    w2 = rng.standard_normal((2, 5)).astype(np.float32)
    chain = dlx._core.dense_chain_forward
    with pytest.raises(ValueError, match=r"weights\[1\] has 5 input features but the layer"):
        chain(x, [w1, w2], [None, None], [True, False])
    with pytest.raises(ValueError, match="one entry per layer"):
        chain(x, [w1], [None, None], [True])
    with pytest.raises(ValueError, match="at least one"):
        chain(x, [], [], [])
    with pytest.raises(TypeError, match="float32"):
        chain(x, [w1.astype(np.float64)], [None], [False])
    with pytest.raises(TypeError, match=r"relu\[0\] must be a bool"):
        chain(x, [w1], [None], [1])
    with pytest.raises(ValueError, match="biases"):
        chain(x, [w1], [np.zeros(4, np.float32)], [False])
