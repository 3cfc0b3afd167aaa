"""dlx.nn.utils: L1/L2 penalties, gradient clipping, max-norm, parameter vectors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from dlx_testing import assert_close

import dlx
import dlx.optim
from dlx import nn
from dlx.nn import utils


def params64(rng, *shapes):
    return [dlx.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]


# ---- penalties -------------------------------------------------------------------------


def test_l1_penalty_value_and_grad(rng):
    ps = params64(rng, (3, 2), (4,))
    pen = utils.l1_penalty(ps, 0.3)
    assert_close(pen.numpy(), 0.3 * sum(np.abs(p.numpy()).sum() for p in ps))
    pen.backward()
    for p in ps:
        assert_close(p.grad, 0.3 * np.sign(p.numpy()))


def test_l2_penalty_value_and_grad(rng):
    ps = params64(rng, (3, 2), (4,))
    pen = utils.l2_penalty(ps, 0.3)
    assert_close(pen.numpy(), 0.15 * sum((p.numpy() ** 2).sum() for p in ps))
    pen.backward()
    for p in ps:
        assert_close(p.grad, 0.3 * p.numpy())  # the weight_decay convention


def test_penalties_gradcheck(rng):
    a, b = params64(rng, (2, 3), (3,))
    assert dlx.gradcheck(lambda a, b: utils.l2_penalty([a, b], 0.7), (a, b))
    assert dlx.gradcheck(lambda a, b: utils.l1_penalty([a, b], 0.7), (a, b))


def test_penalty_accepts_module_and_adds_to_loss(rng):
    model = nn.Linear(3, 2)
    x = dlx.tensor(rng.standard_normal((4, 3)).astype(np.float32))
    loss = model(x).sum() + utils.l2_penalty([model.weight], 0.1)
    loss.backward()
    assert_close(
        model.weight.grad, x.numpy().sum(0)[None, :].repeat(2, 0) + 0.1 * model.weight.numpy()
    )
    pen = utils.l1_penalty(model, 1.0)
    assert_close(pen.numpy(), np.abs(model.weight.numpy()).sum() + np.abs(model.bias.numpy()).sum())


def test_penalty_errors():
    with pytest.raises(ValueError, match="l2_penalty: `weight` must be a finite non-negative"):
        utils.l2_penalty([dlx.ones(2)], -1)
    with pytest.raises(TypeError, match="l1_penalty: `parameters` must hold Tensors"):
        utils.l1_penalty([np.ones(2)], 1)
    assert utils.l2_penalty([], 1.0).item() == 0


# ---- clip_grad_norm_ / clip_grad_value_ ------------------------------------------------


def with_grads(rng, dtype, *shapes, scale=1.0):
    ps = [dlx.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in shapes]
    for p in ps:
        p.grad = (rng.standard_normal(p.shape) * scale).astype(dtype)
    return ps


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_values(rng, dtype, norm_type, max_norm):
    ps = with_grads(rng, dtype, (3, 4), (5,), (2, 1, 2))
    before = [p.grad.numpy().copy() for p in ps]
    flat = np.concatenate([g.reshape(-1) for g in before]).astype(np.float64)
    want = np.abs(flat).max() if math.isinf(norm_type) else np.linalg.norm(flat, norm_type)
    total = utils.clip_grad_norm_(ps, max_norm, norm_type)
    assert total.dtype == dtype
    assert_close(total.numpy(), want, rtol=1e-6)
    coef = min(max_norm / (want + 1e-6), 1.0)
    for p, g in zip(ps, before, strict=True):
        assert_close(p.grad, g * coef, rtol=1e-6)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_clip_grad_norm_matches_torch(rng, norm_type):
    torch = pytest.importorskip("torch")
    ps = with_grads(rng, np.float32, (3, 4), (5,), scale=3.0)
    tps = [torch.tensor(p.numpy().copy(), requires_grad=True) for p in ps]
    for tp, p in zip(tps, ps, strict=True):
        tp.grad = torch.tensor(p.grad.numpy().copy())
    total = utils.clip_grad_norm_(ps, 1.0, norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(tps, 1.0, norm_type)
    assert_close(total.numpy(), ttotal.numpy(), rtol=1e-5)
    for tp, p in zip(tps, ps, strict=True):
        assert_close(p.grad, tp.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_clip_grad_norm_nonfinite(rng):
    (p,) = with_grads(rng, np.float64, (3,))
    p.grad[1] = np.inf
    with pytest.raises(RuntimeError, match=r"clip_grad_norm_: the total norm .* is inf"):
        utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert math.isinf(utils.clip_grad_norm_([p], 1.0).item())


def test_clip_grad_norm_skips_missing_grads_and_accepts_module():
    model = nn.Linear(2, 2)
    assert utils.clip_grad_norm_(model, 1.0).item() == 0
    model.weight.grad = np.full((2, 2), 3.0, np.float32)
    assert_close(utils.clip_grad_norm_(model.parameters(), 1.0).numpy(), 6.0)
    assert_close(np.linalg.norm(model.weight.grad), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="`norm_type` must be positive"):
        utils.clip_grad_norm_(model, 1.0, norm_type=0)


def test_clip_grad_value_(rng, dtype):
    ps = with_grads(rng, dtype, (4, 3), (6,), scale=2.0)
    before = [p.grad.numpy().copy() for p in ps]
    utils.clip_grad_value_(ps, 0.5)
    for p, g in zip(ps, before, strict=True):
        np.testing.assert_array_equal(p.grad, np.clip(g, -0.5, 0.5))
    with pytest.raises(ValueError, match="`clip_value` must be non-negative"):
        utils.clip_grad_value_(ps, -1)


def test_clipping_does_not_rebind_arrays(rng):
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    opt = dlx.optim.SGD(model.parameters(), lr=0.1)
    x = dlx.tensor(rng.standard_normal((5, 3)).astype(np.float32))
    (model(x) ** 2).sum().backward()
    params = list(model.parameters())
    data_ids = [id(p.data) for p in params]
    grad_ids = [id(p.grad) for p in params]
    utils.clip_grad_norm_(params, 1e-3)
    utils.clip_grad_value_(params, 1e-4)
    utils.max_norm_(model, 0.1)
    assert [id(p.data) for p in params] == data_ids
    assert [id(p.grad) for p in params] == grad_ids
    before = [p.numpy().copy() for p in params]
    grads = [p.grad.numpy().copy() for p in params]
    assert max(np.abs(g).max() for g in grads) <= 1e-4
    opt.step()  # the optimiser's flat buffers saw the clipped grads and max-normed weights
    for p, b, g in zip(params, before, grads, strict=True):
        assert_close(p.data, b - np.float32(0.1) * g, rtol=1e-6, atol=1e-9)


# ---- max_norm_ -------------------------------------------------------------------------


def test_max_norm_rows_of_linear_weight(rng):
    model = nn.Sequential(nn.Linear(5, 4), nn.Linear(4, 3))
    with dlx.no_grad():
        model[0].weight.mul_(10.0)
    w0 = model[0].weight.numpy().copy()
    b0 = model[0].bias.numpy().copy()
    norms = np.linalg.norm(w0, axis=1)
    m = float(np.median(norms))
    utils.max_norm_(model, m)
    w = model[0].weight.numpy()
    new = np.linalg.norm(w, axis=1)
    assert (new <= m * (1 + 1e-6)).all()
    big = norms > m
    assert_close(new[big], np.full(big.sum(), m), rtol=1e-6)
    np.testing.assert_array_equal(w[~big], w0[~big])  # small rows untouched
    np.testing.assert_array_equal(model[0].bias.numpy(), b0)  # biases are not constrained
    assert_close(w[big], w0[big] * (m / norms[big])[:, None], rtol=1e-6)


def test_max_norm_conv_filters_and_dim(rng):
    w = dlx.tensor(rng.standard_normal((4, 3, 2, 2)), requires_grad=True)  # (out, in, kh, kw)
    utils.max_norm_([w], 1.0)
    assert (np.sqrt((w.numpy() ** 2).sum(axis=(1, 2, 3))) <= 1 + 1e-12).all()
    v = dlx.tensor(rng.standard_normal((3, 6)) * 5)
    utils.max_norm_(v, 2.0, dim=1)  # per column
    assert_close(np.linalg.norm(v.numpy(), axis=0), np.full(6, 2.0))
    version = w._version
    utils.max_norm_([w], 0.5)
    assert w._version == version + 1  # an in-place update, visible to autograd's checks
    with pytest.raises(ValueError, match="`max_norm` must be positive"):
        utils.max_norm_([w], 0)
    with pytest.raises(ValueError, match="`dim` must be in"):
        utils.max_norm_([w], 1.0, dim=4)


def test_max_norm_after_optimizer_step_keeps_views(rng):
    model = nn.Linear(3, 2)
    opt = dlx.optim.SGD(model.parameters(), lr=1.0)
    x = dlx.tensor(rng.standard_normal((8, 3)).astype(np.float32) * 10)
    for _ in range(3):
        opt.zero_grad()
        (model(x) ** 2).mean().backward()
        opt.step()
        utils.max_norm_(model, 0.5)
        assert (np.linalg.norm(model.weight.numpy(), axis=1) <= 0.5 * (1 + 1e-6)).all()


# ---- parameter vectors -----------------------------------------------------------------


def test_parameters_vector_roundtrip(rng):
    model = nn.Linear(3, 2)
    v = utils.parameters_to_vector(model.parameters())
    assert v.shape == (8,)
    w_id = id(model.weight.data)
    utils.vector_to_parameters(v.numpy() * 2, model.parameters())
    assert id(model.weight.data) == w_id
    assert_close(utils.parameters_to_vector(model).numpy(), v.numpy() * 2)
    with pytest.raises(ValueError, match="`vec` must be 1-D with 8 elements"):
        utils.vector_to_parameters(np.zeros(7, np.float32), model.parameters())
