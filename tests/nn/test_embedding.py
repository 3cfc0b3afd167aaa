"""Embedding and one_hot: torch oracle, gradcheck, padding / max_norm / frequency scaling,
determinism of the scatter-add, index errors, from_pretrained, save/load."""

from __future__ import annotations

import numpy as np
import pytest

import dlx
import dlx.nn.functional as F
from dlx import nn

R = np.random.default_rng(11)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("idx_shape", [(7,), (3, 5), (2, 3, 4)])
@pytest.mark.parametrize(
    "opts",
    [{}, {"padding_idx": 2}, {"padding_idx": -1}, {"scale_grad_by_freq": True, "padding_idx": 0}],
)
def test_embedding_matches_torch(dtype, idx_shape, opts):
    torch = pytest.importorskip("torch")
    table = R.standard_normal((6, 4)).astype(dtype)
    idx = R.integers(0, 6, idx_shape)
    g = R.standard_normal((*idx_shape, 4)).astype(dtype)
    w = dlx.tensor(table, requires_grad=True)
    y = F.embedding(dlx.tensor(idx), w, **opts)
    (y * dlx.tensor(g)).sum().backward()
    tw = torch.tensor(table, requires_grad=True)
    ty = torch.nn.functional.embedding(torch.tensor(idx), tw, **opts)
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    tol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=tol, atol=tol)


def test_embedding_gradient_numpy_reference_large_and_thread_independent():
    """Many repeated indices (the parallel path, counting sort) and few indices into a big
    table (the pair-sort path) give the np.add.at sum, bit for bit across thread counts."""
    old = dlx.get_num_threads()
    try:
        for v, n in ((50, 20000), (100000, 64)):
            table = R.standard_normal((v, 8))
            idx = R.integers(0, v, n)
            g = R.standard_normal((n, 8))
            ref = np.zeros_like(table)
            np.add.at(ref, idx, g)
            grads = []
            for threads in (1, 2):
                dlx.set_num_threads(threads)
                w = dlx.tensor(table, requires_grad=True)
                (F.embedding(idx, w) * dlx.tensor(g)).sum().backward()
                grads.append(w.grad.numpy())
            np.testing.assert_array_equal(grads[0], grads[1])
            np.testing.assert_allclose(grads[0], ref, rtol=1e-12, atol=1e-12)
    finally:
        dlx.set_num_threads(old)


def test_embedding_gradcheck():
    # padding_idx and scale_grad_by_freq change the gradient on purpose (torch-tested above)
    w = dlx.tensor(R.standard_normal((5, 3)), requires_grad=True)
    idx = np.array([[0, 4, 4], [1, 0, 2]])
    assert dlx.gradcheck(lambda w: F.embedding(idx, w).tanh(), (w,))


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5])
def test_embedding_max_norm_renormalises_like_torch(norm_type):
    torch = pytest.importorskip("torch")
    table = (R.standard_normal((6, 4)) * 3).astype(np.float32)
    idx = np.array([[0, 1, 1], [3, 5, 0]])
    g = R.standard_normal((2, 3, 4)).astype(np.float32)
    layer = nn.Embedding(6, 4, max_norm=1.5, norm_type=norm_type)
    layer.weight.numpy()[...] = table
    y = layer(dlx.tensor(idx))
    (y * dlx.tensor(g)).sum().backward()
    tl = torch.nn.Embedding(6, 4, max_norm=1.5, norm_type=norm_type)
    with torch.no_grad():
        tl.weight.copy_(torch.tensor(table))
    ty = tl(torch.tensor(idx))
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(layer.weight.numpy(), tl.weight.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(layer.weight.grad.numpy(), tl.weight.grad.numpy(), rtol=1e-6)
    # rows not looked up are untouched
    np.testing.assert_array_equal(layer.weight.numpy()[[2, 4]], table[[2, 4]])


def test_embedding_layer_init_padding_and_state_dict_like_torch():
    torch = pytest.importorskip("torch")
    layer = nn.Embedding(10, 3, padding_idx=4)
    tl = torch.nn.Embedding(10, 3, padding_idx=4)
    assert list(layer.state_dict()) == list(tl.state_dict()) == ["weight"]
    w = layer.weight.numpy()
    np.testing.assert_array_equal(w[4], 0)
    assert abs(w.std() - 1.0) < 0.5  # N(0, 1)
    assert layer.weight.dtype == np.float32
    layer.load_state_dict(tl.state_dict())
    idx = torch.tensor([[4, 1, 9]])
    np.testing.assert_array_equal(layer(idx.numpy()).numpy(), tl(idx).detach().numpy())
    out = layer(np.array([4, 4, 1]))
    out.sum().backward()
    np.testing.assert_array_equal(layer.weight.grad.numpy()[4], 0)
    np.testing.assert_array_equal(layer.weight.grad.numpy()[1], 1)


def test_embedding_from_pretrained():
    table = R.standard_normal((4, 2))
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad
    assert frozen.weight.dtype == np.float64
    np.testing.assert_array_equal(frozen(np.array([3, 0])).numpy(), table[[3, 0]])
    trained = nn.Embedding.from_pretrained(dlx.tensor(table), freeze=False, padding_idx=1)
    assert trained.weight.requires_grad
    np.testing.assert_array_equal(trained.weight.numpy()[1], table[1])  # kept, as in torch
    trained(np.array([1, 2])).sum().backward()
    np.testing.assert_array_equal(trained.weight.grad.numpy()[1], 0)
    with pytest.raises(ValueError, match="must be 2-D"):
        nn.Embedding.from_pretrained(np.zeros(3))


def test_embedding_errors():
    w = dlx.tensor(np.zeros((5, 2), np.float32), requires_grad=True)
    with pytest.raises(IndexError, match=r"index 5 is out of range .* size 5"):
        F.embedding(np.array([0, 5]), w)
    with pytest.raises(IndexError, match="index -1 is out of range"):
        F.embedding(np.array([-1, 2]), w)
    with pytest.raises(TypeError, match=r"`input` must hold integer indices.*float32"):
        F.embedding(np.array([0.0, 1.0], np.float32), w)
    with pytest.raises(ValueError, match="`weight` must be 2-D"):
        F.embedding(np.array([0]), np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="`weight` must be float32 or float64"):
        F.embedding(np.array([0]), np.zeros((3, 2), np.int64))
    with pytest.raises(ValueError, match="`padding_idx` must be within num_embeddings \\(5\\)"):
        F.embedding(np.array([0]), w, padding_idx=5)
    with pytest.raises(ValueError, match="`sparse=True` is not supported"):
        nn.Embedding(3, 2, sparse=True)
    with pytest.raises(ValueError, match="`max_norm` must be"):
        nn.Embedding(3, 2, max_norm=-1.0)
    with pytest.raises(ValueError, match="`num_embeddings` must be a non-negative int"):
        nn.Embedding(-1, 2)


def test_embedding_save_load_round_trip(tmp_path):
    model = nn.Sequential(nn.Embedding(9, 4, padding_idx=0), nn.LayerNorm(4), nn.Linear(4, 2))
    path = tmp_path / "emb.dlx"
    dlx.save(model, path)
    loaded = dlx.load(path)
    idx = np.array([[1, 0, 8], [3, 3, 2]])
    np.testing.assert_array_equal(model(idx).numpy(), loaded(idx).numpy())
    assert loaded[0].padding_idx == 0
    assert "Embedding" in model.summary((3,), dtype=np.int64)


@pytest.mark.parametrize("num_classes", [-1, 6])
def test_one_hot_matches_torch(num_classes):
    torch = pytest.importorskip("torch")
    idx = R.integers(0, 5, (3, 4))
    out = F.one_hot(dlx.tensor(idx), num_classes)
    ref = torch.nn.functional.one_hot(torch.tensor(idx), num_classes)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.numpy(), ref.numpy())


def test_one_hot_errors():
    with pytest.raises(TypeError, match="`tensor` must hold integer class values"):
        F.one_hot(np.array([0.5]))
    with pytest.raises(ValueError, match=r"class values must be in \[0, num_classes=3\), got 3"):
        F.one_hot(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match="got -2"):
        F.one_hot(np.array([0, -2]), 3)
    with pytest.raises(ValueError, match="cannot infer"):
        F.one_hot(np.zeros(0, np.int64))
