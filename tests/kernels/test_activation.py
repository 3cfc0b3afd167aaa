from __future__ import annotations

import math

import numpy as np
import pytest
from dlx_testing import assert_close, check_grad

from dlx import _core, reference
from dlx.reference.activation import _erfc

# Kernels with per-level code: CI runs this file again at every ISA level (.ci/run).
pytestmark = pytest.mark.isa_levels

# (name, keyword arguments) of every elementwise activation.
OPS = [
    ("relu", {}),
    ("leaky_relu", {}),
    ("leaky_relu", {"negative_slope": 0.2}),
    ("abs_relu", {}),
    ("elu", {}),
    ("elu", {"alpha": 0.5}),
    ("sigmoid", {}),
    ("tanh", {}),
    ("softplus", {}),
    ("softplus", {"beta": 2.0, "threshold": 3.0}),
    ("hardtanh", {}),
    ("hardtanh", {"min_val": -0.5, "max_val": 2.0}),
    ("gelu", {}),
    ("gelu", {"approximate": "tanh"}),
    ("silu", {}),
]
OP_IDS = [name + "".join(f"-{k}={v}" for k, v in kw.items()) for name, kw in OPS]
USES_OUTPUT = {"sigmoid", "tanh"}  # their backward takes the forward output
# 77100 elements: above the kernels' parallel threshold.
SHAPES = [(0,), (1,), (7,), (3, 5), (2, 3, 4, 5), (2, 0, 3), (64, 33), (300, 257)]


def fwd(name, x, kw, impl=_core):
    return getattr(impl, f"{name}_forward")(x, **kw)


def bwd(name, gy, saved, kw, impl=_core):
    return getattr(impl, f"{name}_backward")(gy, saved, **kw)


def torch_fn(name, kw):
    import torch
    import torch.nn.functional as F

    fns = {
        "relu": F.relu,
        "leaky_relu": F.leaky_relu,
        "abs_relu": torch.abs,
        "elu": F.elu,
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "softplus": F.softplus,
        "hardtanh": F.hardtanh,
        "gelu": F.gelu,
        "silu": F.silu,
    }
    return lambda t: fns[name](t, **kw)


@pytest.mark.parametrize(("name", "kw"), OPS, ids=OP_IDS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_activation_matches_reference(rng, dtype, name, kw, shape):
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    gy = rng.standard_normal(shape).astype(dtype)
    y = fwd(name, x, kw)
    assert y.dtype == dtype
    assert y.shape == shape
    assert_close(y, fwd(name, x, kw, reference))
    saved = y if name in USES_OUTPUT else x
    gx = bwd(name, gy, saved, kw)
    assert gx.dtype == dtype
    assert gx.shape == shape
    assert_close(gx, bwd(name, gy, saved, kw, reference))


@pytest.mark.parametrize(("name", "kw"), OPS, ids=OP_IDS)
def test_activation_gradcheck_float64(rng, name, kw):
    x = rng.standard_normal((3, 4)) * 2
    gy = rng.standard_normal(x.shape)
    saved = fwd(name, x, kw) if name in USES_OUTPUT else x.copy()
    gx = bwd(name, gy, saved, kw)

    def f():
        return float((fwd(name, x, kw) * gy).sum())

    check_grad(f, x, gx)


def test_activation_subgradients_follow_pytorch(dtype):
    x = np.array([-1.0, 0.0, 1.0], dtype)
    g = np.ones(3, dtype)
    np.testing.assert_array_equal(_core.relu_backward(g, x), [0, 0, 1])
    np.testing.assert_array_equal(
        _core.leaky_relu_backward(g, x, negative_slope=0.25), [0.25, 0.25, 1]
    )
    np.testing.assert_array_equal(_core.abs_relu_backward(g, x), [-1, 0, 1])
    np.testing.assert_allclose(_core.elu_backward(g, x, alpha=0.5)[1:], [0.5, 1])
    edges = np.array([-1.0, -0.5, 1.0, 1.5], dtype)
    np.testing.assert_array_equal(_core.hardtanh_backward(np.ones(4, dtype), edges), [0, 1, 0, 0])
    w = np.array([0.3], dtype)
    gx, _ = _core.prelu_backward(g, x, w)
    np.testing.assert_allclose(gx, [0.3, 0.3, 1])


@pytest.mark.parametrize(("name", "kw"), OPS, ids=OP_IDS)
def test_activation_extreme_inputs_are_finite(dtype, name, kw):
    x = np.array([-1e4, -1e3, -100.0, -30.0, -1e-30, 0.0, 1e-30, 30.0, 100.0, 1e3, 1e4], dtype)
    y = fwd(name, x, kw)
    assert np.isfinite(y).all(), y
    assert_close(y, fwd(name, x, kw, reference), rtol=1e-6 if dtype == np.float32 else 1e-12)
    saved = y if name in USES_OUTPUT else x
    gx = bwd(name, np.ones_like(x), saved, kw)
    assert np.isfinite(gx).all(), gx


def test_activation_limits_are_exact(dtype):
    x = np.array([-np.inf, -1e4, 1e4, np.inf], dtype)
    np.testing.assert_array_equal(_core.sigmoid_forward(x), [0, 0, 1, 1])
    np.testing.assert_array_equal(_core.tanh_forward(x), [-1, -1, 1, 1])
    np.testing.assert_array_equal(_core.softplus_forward(x[1:3]), [0, 1e4])
    np.testing.assert_array_equal(
        _core.softplus_forward(x[1:3], threshold=1e9), [0, 1e4]
    )  # the stable branch
    np.testing.assert_array_equal(_core.gelu_forward(x[1:3]), [0, 1e4])
    np.testing.assert_array_equal(_core.elu_forward(x[:2], alpha=2.0), [-2, -2])
    # sigmoid(-100) is a small positive number, not 0 through an overflowing exp(100).
    assert _core.sigmoid_forward(np.array([-100.0], dtype))[0] > 0
    s = _core.sigmoid_forward(np.array([-80.0], dtype))
    assert_close(s, [math.exp(-80)], rtol=1e-6, atol=0)


@pytest.mark.parametrize(
    "name",
    [
        "relu",
        "leaky_relu",
        "sigmoid",
        "tanh",
        "hardtanh",
        "gelu",
        "silu",
        "elu",
        "softplus",
        "abs_relu",
    ],
)
def test_activation_nan_propagates(dtype, name):
    y = fwd(name, np.array([np.nan, 1.0], dtype), {})
    assert np.isnan(y[0])


def test_reference_erfc_is_accurate():
    xs = np.concatenate([np.linspace(-6, 6, 1201), [-30.0, -9.0, 0.5, 0.999, 1.0, 7.99, 8.0, 27.0]])
    expected = np.array([math.erfc(v) for v in xs])
    np.testing.assert_allclose(_erfc(xs), expected, rtol=1e-13, atol=0)


@pytest.mark.parametrize(("name", "kw"), OPS, ids=OP_IDS)
def test_activation_matches_torch(rng, dtype, name, kw):
    torch = pytest.importorskip("torch")
    x = np.concatenate([rng.standard_normal(50) * 4, [0.0, -1.0, 1.0, -0.5, 2.0, 1.5, 25.0]])
    x = x.astype(dtype)
    gy = rng.standard_normal(x.shape).astype(dtype)
    tx = torch.from_numpy(x.copy()).requires_grad_()
    ty = torch_fn(name, kw)(tx)
    (tgx,) = torch.autograd.grad(ty, tx, torch.from_numpy(gy))
    y = fwd(name, x, kw)
    assert_close(y, ty.detach().numpy(), rtol=1e-5 if dtype == np.float32 else 1e-12)
    gx = bwd(name, gy, y if name in USES_OUTPUT else x, kw)
    assert_close(gx, tgx.numpy(), rtol=1e-5 if dtype == np.float32 else 1e-12)


# PReLU


PRELU_SHAPES = [
    (1,),
    (5,),
    (4, 3),
    (2, 3, 5),
    (2, 3, 4, 5),
    (0, 3, 2),
    (3, 4, 0),
    (300, 4, 40),
    (2, 2, 9000),
]


@pytest.mark.parametrize("shape", PRELU_SHAPES, ids=str)
@pytest.mark.parametrize("shared", [True, False], ids=["shared", "per-channel"])
def test_prelu_matches_reference(rng, dtype, shape, shared):
    c = shape[1] if len(shape) >= 2 else 1
    w = rng.uniform(0.05, 0.5, 1 if shared else c).astype(dtype)
    x = rng.standard_normal(shape).astype(dtype)
    gy = rng.standard_normal(shape).astype(dtype)
    y = _core.prelu_forward(x, w)
    assert y.dtype == dtype
    assert_close(y, reference.prelu_forward(x, w))
    gx, gw = _core.prelu_backward(gy, x, w)
    rgx, rgw = reference.prelu_backward(gy, x, w)
    assert gw.shape == w.shape
    assert gw.dtype == dtype
    assert_close(gx, rgx)
    assert_close(gw, rgw)


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "per-channel"])
def test_prelu_gradcheck_float64(rng, shared):
    x = rng.standard_normal((3, 4, 5))
    w = rng.uniform(0.1, 0.5, 1 if shared else 4)
    gy = rng.standard_normal(x.shape)
    gx, gw = _core.prelu_backward(gy, x, w)

    def f():
        return float((_core.prelu_forward(x, w) * gy).sum())

    check_grad(f, x, gx)
    check_grad(f, w, gw)


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "per-channel"])
def test_prelu_matches_torch(rng, dtype, shared):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((4, 3, 5, 2)).astype(dtype)
    w = rng.uniform(0.1, 0.5, 1 if shared else 3).astype(dtype)
    gy = rng.standard_normal(x.shape).astype(dtype)
    tx, tw = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, w))
    ty = torch.nn.functional.prelu(tx, tw)
    tgx, tgw = torch.autograd.grad(ty, (tx, tw), torch.from_numpy(gy))
    assert_close(_core.prelu_forward(x, w), ty.detach().numpy())
    gx, gw = _core.prelu_backward(gy, x, w)
    assert_close(gx, tgx.numpy())
    assert_close(gw, tgw.numpy(), atol=1e-4 if dtype == np.float32 else 1e-12)


def test_prelu_errors():
    x = np.ones((2, 4, 3), np.float32)
    with pytest.raises(
        ValueError,
        match=r"prelu_forward: `weight` must have 1 element or one "
        r"per channel \(4 = input.shape\[1\]\)",
    ):
        _core.prelu_forward(x, np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"`weight` must be 1-D, got ndim=2"):
        _core.prelu_forward(x, np.ones((1, 4), np.float32))
    with pytest.raises(ValueError, match=r"`weight` must have 1 element"):
        _core.prelu_forward(np.ones(4, np.float32), np.ones(4, np.float32))
    with pytest.raises(TypeError, match=r"`weight` must have dtype float32"):
        _core.prelu_forward(x, np.ones(4))
    with pytest.raises(ValueError, match=r"prelu_backward: `grad_output` must have shape"):
        _core.prelu_backward(np.ones((2, 4), np.float32), x, np.ones(4, np.float32))


# Maxout


MAXOUT_CASES = [
    ((2, 6), 3),
    ((2, 6), 1),
    ((1, 4, 3, 3), 2),
    ((3, 6, 5), 6),
    ((0, 4, 2), 2),
    ((2, 4, 0), 4),
    ((64, 32, 12), 4),
    ((2, 2, 9000), 2),
]


@pytest.mark.parametrize(("shape", "pieces"), MAXOUT_CASES, ids=str)
def test_maxout_matches_reference(rng, dtype, shape, pieces):
    x = rng.standard_normal(shape).astype(dtype)
    y, idx = _core.maxout_forward(x, pieces)
    ry, ridx = reference.maxout_forward(x, pieces)
    assert y.shape == (shape[0], shape[1] // pieces, *shape[2:])
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(idx, ridx)
    gy = rng.standard_normal(y.shape).astype(dtype)
    gx = _core.maxout_backward(gy, idx, pieces)
    assert gx.shape == shape
    np.testing.assert_array_equal(gx, reference.maxout_backward(gy, idx, pieces))


def test_maxout_grouping_ties_and_nan(dtype):
    # Unit 0 takes channels 0..2, unit 1 channels 3..5 (consecutive, not strided).
    x = np.array([[1, 3, 3, 5, 4, 4]], dtype)
    y, idx = _core.maxout_forward(x, 3)
    np.testing.assert_array_equal(y, [[3, 5]])
    np.testing.assert_array_equal(idx, [[1, 0]])  # the first maximum wins a tie
    y, idx = _core.maxout_forward(np.array([[1, np.nan, 2, np.nan]], dtype), 4)
    assert np.isnan(y[0, 0])
    assert idx[0, 0] == 1
    gx = _core.maxout_backward(np.array([[2.0, 7.0]], dtype), np.array([[1, 0]]), 3)
    np.testing.assert_array_equal(gx, [[0, 2, 0, 7, 0, 0]])


def test_maxout_gradcheck_float64(rng):
    x = rng.standard_normal((2, 6, 3))
    y, idx = _core.maxout_forward(x, 3)
    gy = rng.standard_normal(y.shape)
    gx = _core.maxout_backward(gy, idx, 3)

    def f():
        return float((_core.maxout_forward(x, 3)[0] * gy).sum())

    check_grad(f, x, gx)


def test_maxout_errors():
    x = np.ones((2, 6, 3), np.float32)
    with pytest.raises(ValueError, match=r"maxout_forward: `pieces` must be a positive int, got 0"):
        _core.maxout_forward(x, 0)
    with pytest.raises(
        ValueError,
        match=r"`input` has 6 channels, which is not a multiple of "
        r"`pieces`=4",
    ):
        _core.maxout_forward(x, 4)
    with pytest.raises(ValueError, match=r"`input` must be \(N, C \* pieces, \*rest\)"):
        _core.maxout_forward(np.ones(6, np.float32), 2)
    gy = np.ones((2, 3, 3), np.float32)
    idx = np.zeros((2, 3, 3), np.int64)
    with pytest.raises(TypeError, match=r"maxout_backward: `indices` must have dtype int64"):
        _core.maxout_backward(gy, idx.astype(np.int32), 2)
    with pytest.raises(ValueError, match=r"`indices` must have shape \(2, 3, 3\)"):
        _core.maxout_backward(gy, idx[:, :2].copy(), 2)
    bad = idx.copy()
    bad[1, 2, 0] = 2
    with pytest.raises(ValueError, match=r"`indices` must be in \[0, pieces=2\), got 2"):
        _core.maxout_backward(gy, bad, 2)
    with pytest.raises(ValueError, match=r"`pieces` must be a positive int, got -1"):
        _core.maxout_backward(gy, idx, -1)


# Argument checks shared by the elementwise ops


def test_activation_errors():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(TypeError, match=r"relu_forward: `input` must be a numpy.ndarray, got list"):
        _core.relu_forward([1.0])
    with pytest.raises(TypeError, match=r"`input` must be float32 or float64, got int64"):
        _core.relu_forward(np.ones(3, np.int64))
    with pytest.raises(TypeError, match=r"relu_backward: `input` must have dtype float32"):
        _core.relu_backward(x, np.ones((2, 3)))
    with pytest.raises(TypeError, match=r"sigmoid_backward: `output` must have dtype float64"):
        _core.sigmoid_backward(np.ones(3), np.ones(3, np.float32))
    with pytest.raises(
        ValueError,
        match=r"relu_backward: `grad_output` must have shape \(3, 2\), "
        r"got \(2, 3\)",
    ):
        _core.relu_backward(x, np.ones((3, 2), np.float32))
    with pytest.raises(ValueError, match=r"tanh_forward: `input` must be C-contiguous"):
        _core.tanh_forward(np.ones((4, 4), np.float32)[:, ::2])
    with pytest.raises(
        ValueError,
        match=r"gelu_forward: `approximate` must be 'none' or 'tanh', "
        r"got 'Tanh'",
    ):
        _core.gelu_forward(x, approximate="Tanh")
    with pytest.raises(ValueError, match=r"gelu_backward: `approximate` must be"):
        _core.gelu_backward(x, x, approximate="erf")
    with pytest.raises(ValueError, match=r"softplus_forward: `beta` must be positive, got 0"):
        _core.softplus_forward(x, beta=0.0)
    with pytest.raises(ValueError, match=r"hardtanh_backward: `min_val` must not exceed `max_val`"):
        _core.hardtanh_backward(x, x, min_val=1.0, max_val=-1.0)


def test_activation_output_is_new_array(dtype):
    x = np.linspace(-2, 2, 9, dtype=dtype)
    before = x.copy()
    y = _core.relu_forward(x)
    assert not np.shares_memory(x, y)
    np.testing.assert_array_equal(x, before)


def test_tanh_float64_accuracy_and_specials():
    # The float64 kernel is a vectorised Cephes form (csrc/vmath.h), not std::tanh.
    x = np.concatenate(
        [
            np.linspace(-25, 25, 200_001),
            np.geomspace(1e-300, 1, 2001),
            -np.geomspace(1e-300, 1, 2001),
        ]
    )
    y, ref = _core.tanh_forward(x), np.tanh(x)
    assert np.all(np.abs(y - ref) <= 4 * np.finfo(np.float64).eps * np.abs(ref))
    s = _core.tanh_forward(np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1e308]))
    assert np.isnan(s[0])
    np.testing.assert_array_equal(s[1:], [1, -1, 0, 0, 1])
    assert np.signbit(s[3])
    assert not np.signbit(s[4])
