from __future__ import annotations

import numpy as np
import pytest
from dlx_testing import assert_close, check_grad

from dlx import _core, reference

# Kernels with per-level code: CI runs this file again at every ISA level (.ci/run).
pytestmark = pytest.mark.isa_levels

# (shape, axis): rows (inner = 1), column blocks (inner > 1, also > 256 columns), empty
# arrays, and sizes above the parallel threshold along both paths.
CASES = [
    ((1,), 0),
    ((7,), -1),
    ((3, 5), 1),
    ((3, 5), 0),
    ((2, 3, 4), 1),
    ((2, 3, 4), -3),
    ((4, 1, 3), 1),
    ((2, 5, 300), 1),
    ((0, 5), 1),
    ((3, 0), 1),
    ((3, 0), 0),
    ((128, 1000), -1),
    ((64, 10, 70), 1),
    ((1000, 40), 0),
]
KINDS = ["softmax", "log_softmax"]


def fwd(kind, x, axis, impl=_core):
    return getattr(impl, f"{kind}_forward")(x, axis)


def bwd(kind, gy, y, axis, impl=_core):
    return getattr(impl, f"{kind}_backward")(gy, y, axis)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("shape", "axis"), CASES, ids=str)
def test_softmax_matches_reference(rng, dtype, kind, shape, axis):
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    y = fwd(kind, x, axis)
    assert y.dtype == dtype
    assert y.shape == shape
    assert_close(y, fwd(kind, x, axis, reference))
    gy = rng.standard_normal(shape).astype(dtype)
    gx = bwd(kind, gy, y, axis)
    assert gx.shape == shape
    assert_close(gx, bwd(kind, gy, y, axis, reference))


@pytest.mark.parametrize(("shape", "axis"), [((5, 7), -1), ((4, 6, 3), 1), ((300, 3), 0)])
def test_softmax_sums_to_one(rng, dtype, shape, axis):
    y = _core.softmax_forward(rng.standard_normal(shape).astype(dtype) * 10, axis)
    s = y.sum(axis=axis, dtype=np.float64)
    np.testing.assert_allclose(s, np.ones_like(s), rtol=1e-6 if dtype == np.float32 else 1e-13)
    assert (y >= 0).all()


@pytest.mark.parametrize("axis", [0, 1])
def test_softmax_extreme_inputs_are_exact(dtype, axis):
    x = np.array([1e4, -1e4, 0.0], dtype)
    x2 = np.stack([x, x], axis=1 - axis)  # the triple lies along `axis` (row or column path)
    y = _core.softmax_forward(x2, axis)
    ly = _core.log_softmax_forward(x2, axis)
    np.testing.assert_array_equal(np.moveaxis(y, axis, -1), [[1, 0, 0]] * 2)
    np.testing.assert_array_equal(np.moveaxis(ly, axis, -1), [[0, -2e4, -1e4]] * 2)
    gy = np.ones_like(x2)
    assert np.isfinite(_core.softmax_backward(gy, y, axis)).all()
    assert np.isfinite(_core.log_softmax_backward(gy, ly, axis)).all()


def test_softmax_large_inputs_are_finite(rng, dtype):
    x = (rng.standard_normal((16, 50)) * 3e3).astype(dtype)
    for kind in KINDS:
        y = fwd(kind, x, -1)
        assert np.isfinite(y).all()
        assert_close(y, fwd(kind, x, -1, reference))


def test_softmax_of_a_scalar():
    assert _core.softmax_forward(np.array(3.0)) == 1.0
    assert _core.log_softmax_forward(np.array(3.0), axis=0) == 0.0
    assert _core.softmax_backward(np.array(2.0), np.array(1.0)) == 0.0


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_softmax_gradcheck_float64(rng, kind, axis):
    x = rng.standard_normal((3, 4, 5))
    gy = rng.standard_normal(x.shape)
    y = fwd(kind, x, axis)
    gx = bwd(kind, gy, y, axis)

    def f():
        return float((fwd(kind, x, axis) * gy).sum())

    check_grad(f, x, gx)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_matches_torch(rng, dtype, kind, axis):
    torch = pytest.importorskip("torch")
    x = (rng.standard_normal((6, 9, 4)) * 4).astype(dtype)
    gy = rng.standard_normal(x.shape).astype(dtype)
    tx = torch.from_numpy(x.copy()).requires_grad_()
    ty = getattr(torch, kind)(tx, axis)
    (tgx,) = torch.autograd.grad(ty, tx, torch.from_numpy(gy))
    y = fwd(kind, x, axis)
    assert_close(y, ty.detach().numpy())
    assert_close(bwd(kind, gy, y, axis), tgx.numpy())


def test_softmax_errors():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(
        ValueError,
        match=r"softmax_forward: `axis` must be in \[-2, 2\) for a 2-D "
        r"input, got 2",
    ):
        _core.softmax_forward(x, 2)
    with pytest.raises(ValueError, match=r"log_softmax_forward: `axis` must be in \[-2, 2\).*-3"):
        _core.log_softmax_forward(x, -3)
    with pytest.raises(
        ValueError,
        match=r"softmax_backward: `grad_output` must have shape "
        r"\(2, 3\), got \(3, 2\)",
    ):
        _core.softmax_backward(np.ones((3, 2), np.float32), x)
    with pytest.raises(TypeError, match=r"log_softmax_backward: `output` must have dtype float32"):
        _core.log_softmax_backward(x, np.ones((2, 3)))
    with pytest.raises(TypeError, match=r"softmax_forward: `input` must be a numpy.ndarray"):
        _core.softmax_forward([1.0, 2.0])
    with pytest.raises(TypeError, match=r"`input` must be float32 or float64, got int32"):
        _core.softmax_forward(np.ones(3, np.int32))
    with pytest.raises(ValueError, match=r"`input` must be C-contiguous"):
        _core.softmax_forward(np.ones((4, 4))[:, ::2])
