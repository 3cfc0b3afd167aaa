"""LayerNorm / RMSNorm / GroupNorm: torch oracle (forward and gradients), float64 gradcheck,
error cases, the layers' parameters, and save/load."""

from __future__ import annotations

import numpy as np
import pytest

import dlx
import dlx.nn.functional as F
from dlx import nn

pytestmark = pytest.mark.isa_levels

R = np.random.default_rng(7)
TOL = {np.float32: {"rtol": 1e-4, "atol": 2e-5}, np.float64: {"rtol": 1e-10, "atol": 1e-11}}

# (input shape, normalized_shape)
LN_CASES = [((4, 8), (8,)), ((3, 5, 6), (6,)), ((2, 3, 4, 5), (4, 5)), ((2, 1, 7), (1, 7))]


def _leaves(*arrays):
    return [None if a is None else dlx.tensor(a, requires_grad=True) for a in arrays]


def _torch_leaves(torch, *arrays):
    return [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]


def _compare(outs, touts, grads, tgrads, dtype):
    np.testing.assert_allclose(outs.numpy(), touts.detach().numpy(), **TOL[dtype])
    for g, tg in zip(grads, tgrads, strict=True):
        if g is None:
            assert tg is None
            continue
        np.testing.assert_allclose(g.grad.numpy(), tg.grad.numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("shape", "nshape"), LN_CASES)
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_layer_norm_matches_torch(dtype, shape, nshape, affine):
    torch = pytest.importorskip("torch")
    x = (R.standard_normal(shape) * 3 + 1).astype(dtype)
    w = R.standard_normal(nshape).astype(dtype) if affine != "none" else None
    b = R.standard_normal(nshape).astype(dtype) if affine == "both" else None
    g = R.standard_normal(shape).astype(dtype)
    args = _leaves(x, w, b)
    y = F.layer_norm(args[0], nshape, args[1], args[2], eps=1e-5)
    (y * dlx.tensor(g)).sum().backward()
    targs = _torch_leaves(torch, x, w, b)
    ty = torch.nn.functional.layer_norm(targs[0], nshape, targs[1], targs[2], eps=1e-5)
    (ty * torch.tensor(g)).sum().backward()
    _compare(y, ty, args, targs, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("shape", "nshape"), LN_CASES)
@pytest.mark.parametrize("eps", [None, 1e-6])
def test_rms_norm_matches_torch(dtype, shape, nshape, eps):
    torch = pytest.importorskip("torch")
    x = R.standard_normal(shape).astype(dtype)
    w = R.standard_normal(nshape).astype(dtype)
    g = R.standard_normal(shape).astype(dtype)
    args = _leaves(x, w)
    y = F.rms_norm(args[0], nshape, args[1], eps=eps)
    (y * dlx.tensor(g)).sum().backward()
    targs = _torch_leaves(torch, x, w)
    ty = torch.nn.functional.rms_norm(targs[0], nshape, targs[1], eps=eps)
    (ty * torch.tensor(g)).sum().backward()
    _compare(y, ty, args, targs, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("shape", "groups"), [((4, 6), 3), ((2, 6, 5), 2), ((3, 4, 3, 2), 4), ((2, 4, 2, 2, 2), 1)]
)
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_matches_torch(dtype, shape, groups, affine):
    torch = pytest.importorskip("torch")
    c = shape[1]
    x = (R.standard_normal(shape) * 2 - 1).astype(dtype)
    w = R.standard_normal(c).astype(dtype) if affine else None
    b = R.standard_normal(c).astype(dtype) if affine else None
    g = R.standard_normal(shape).astype(dtype)
    args = _leaves(x, w, b)
    y = F.group_norm(args[0], groups, args[1], args[2])
    (y * dlx.tensor(g)).sum().backward()
    targs = _torch_leaves(torch, x, w, b)
    ty = torch.nn.functional.group_norm(targs[0], groups, targs[1], targs[2])
    (ty * torch.tensor(g)).sum().backward()
    _compare(y, ty, args, targs, dtype)


def test_large_rows_match_torch_and_do_not_depend_on_threads():
    """Rows big enough for the parallel paths and several gradient chunks."""
    torch = pytest.importorskip("torch")
    x = R.standard_normal((512, 384)).astype(np.float32)
    w = R.standard_normal(384).astype(np.float32)
    b = R.standard_normal(384).astype(np.float32)
    g = R.standard_normal(x.shape).astype(np.float32)
    results = []
    old = dlx.get_num_threads()
    try:
        for threads in (1, 2):
            dlx.set_num_threads(threads)
            args = _leaves(x, w, b)
            y = F.layer_norm(args[0], 384, args[1], args[2])
            (y * dlx.tensor(g)).sum().backward()
            results.append([y.numpy()] + [a.grad.numpy() for a in args])
    finally:
        dlx.set_num_threads(old)
    for a, c in zip(*results, strict=True):
        np.testing.assert_array_equal(a, c)
    targs = _torch_leaves(torch, x, w, b)
    ty = torch.nn.functional.layer_norm(targs[0], (384,), targs[1], targs[2])
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(results[0][0], ty.detach().numpy(), rtol=1e-4, atol=1e-4)
    for r, t in zip(results[0][1:], targs, strict=True):
        np.testing.assert_allclose(r, t.grad.numpy(), rtol=1e-4, atol=2e-3)


def test_layer_norm_numpy_reference():
    x = R.standard_normal((3, 4, 5))
    y = F.layer_norm(dlx.tensor(x), (4, 5), eps=1e-3).numpy()
    mu = x.mean((1, 2), keepdims=True)
    var = x.var((1, 2), keepdims=True)  # biased
    np.testing.assert_allclose(y, (x - mu) / np.sqrt(var + 1e-3), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "case",
    [
        lambda x, w, b: F.layer_norm(x, (3,), w, b),
        lambda x, w, b: F.layer_norm(x.reshape(2, 1, 3), (1, 3), w.reshape(1, 3), b.reshape(1, 3)),
        lambda x, w, b: F.rms_norm(x, 3, w, eps=1e-4),
        lambda x, w, b: F.group_norm(x.reshape(1, 6), 3, w.repeat(2), b.repeat(2)),
    ],
    ids=["layer_norm", "layer_norm_2d", "rms_norm", "group_norm"],
)
def test_norm_gradcheck(case):
    x, w, b = _leaves(R.standard_normal((2, 3)), R.standard_normal(3), R.standard_normal(3))
    assert dlx.gradcheck(case, (x, w, b))


def test_group_norm_gradcheck_4d():
    x, w, b = _leaves(R.standard_normal((2, 4, 2, 3)), R.standard_normal(4), R.standard_normal(4))
    assert dlx.gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), (x, w, b))


def test_norm_errors():
    x = dlx.tensor(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match=r"normalized_shape=\[3\].*\[\*, 3\].*\[2, 3, 4\]"):
        F.layer_norm(x, 3)
    with pytest.raises(ValueError, match="`weight` must have shape"):
        F.layer_norm(x, 4, weight=np.ones(3, np.float32))
    with pytest.raises(TypeError, match="`weight` has dtype float64"):
        F.layer_norm(x, 4, weight=np.ones(4))
    with pytest.raises(TypeError, match="`input` must be float32 or float64"):
        F.layer_norm(np.zeros((2, 3), np.int64), 3)
    with pytest.raises(ValueError, match="`eps` must be"):
        F.layer_norm(x, 4, eps=-1.0)
    with pytest.raises(ValueError, match="`normalized_shape` must be a non-empty"):
        F.layer_norm(x, ())
    with pytest.raises(TypeError, match="`normalized_shape` must be an int"):
        F.rms_norm(x, 4.0)
    with pytest.raises(ValueError, match="positive divisor of the number of channels \\(3\\)"):
        F.group_norm(x, 2)
    with pytest.raises(ValueError, match="at least 2-D"):
        F.group_norm(np.zeros(3, np.float32), 1)
    with pytest.raises(ValueError, match="`num_channels` \\(5\\) must be a positive multiple"):
        nn.GroupNorm(2, 5)
    with pytest.raises(ValueError, match="expected input with 4 channels"):
        nn.GroupNorm(2, 4)(x)


def test_layers_parameters_like_torch():
    torch = pytest.importorskip("torch")
    pairs = [
        (nn.LayerNorm((2, 3)), torch.nn.LayerNorm((2, 3))),
        (nn.LayerNorm(4, bias=False), torch.nn.LayerNorm(4, bias=False)),
        (
            nn.LayerNorm(4, elementwise_affine=False),
            torch.nn.LayerNorm(4, elementwise_affine=False),
        ),
        (nn.RMSNorm(5), torch.nn.RMSNorm(5)),
        (nn.GroupNorm(2, 6), torch.nn.GroupNorm(2, 6)),
        (nn.GroupNorm(2, 6, affine=False), torch.nn.GroupNorm(2, 6, affine=False)),
    ]
    for ours, theirs in pairs:
        sd, tsd = ours.state_dict(), theirs.state_dict()
        assert list(sd) == list(tsd)
        for k in sd:
            np.testing.assert_array_equal(sd[k].numpy(), tsd[k].numpy())


def test_layers_forward_and_train():
    x = dlx.tensor(R.standard_normal((4, 6, 3)).astype(np.float32))
    for layer in (nn.LayerNorm(3), nn.RMSNorm([6, 3]), nn.GroupNorm(3, 6)):
        out = layer(x)
        assert out.shape == x.shape
        out.sum().backward()
        for p in layer.parameters():
            assert p.grad is not None
            assert p.grad.shape == p.shape
        assert layer.output_shape(x.shape) == tuple(x.shape)


def test_layers_save_load_round_trip(tmp_path):
    model = nn.Sequential(nn.Linear(4, 6), nn.LayerNorm(6), nn.GroupNorm(3, 6), nn.RMSNorm(6))
    for p in model.parameters():
        p.numpy()[...] = R.standard_normal(p.shape)
    path = tmp_path / "m.dlx"
    dlx.save(model, path)
    loaded = dlx.load(path)
    x = dlx.tensor(R.standard_normal((5, 4)).astype(np.float32))
    np.testing.assert_array_equal(model(x).numpy(), loaded(x).numpy())
    text = model.summary((4,))
    assert "LayerNorm" in text
    assert "GroupNorm" in text
    assert "RMSNorm" in text
