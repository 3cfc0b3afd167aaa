from __future__ import annotations

import numpy as np
import pytest
from dlx_testing import assert_close, check_grad

from dlx import _core, reference

# Kernels with per-level code: CI runs this file again at every ISA level (.ci/run).
pytestmark = pytest.mark.isa_levels

# M == 1 and N == 1 take the GEMV path (csrc/blas.h).
SHAPES = [
    (1, 1, 1),
    (3, 5, 7),
    (64, 33, 17),
    (257, 129, 65),
    (1, 784, 10),
    (29, 41, 1),
    (1, 6, 1),
    (128, 0, 4),
]


@pytest.mark.parametrize(("m", "k", "n"), SHAPES)
@pytest.mark.parametrize("trans", [(False, False), (True, False), (False, True), (True, True)])
def test_gemm_matches_reference(rng, dtype, m, k, n, trans):
    ta, tb = trans
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(dtype)
    out = rng.standard_normal((m, n)).astype(dtype)
    expected = reference.gemm(a, b, out, ta, tb, alpha=0.5, beta=2.0)
    got = _core.gemm(a, b, out=out, trans_a=ta, trans_b=tb, alpha=0.5, beta=2.0)
    assert got is out
    assert_close(
        out,
        expected,
        rtol=1e-5 if dtype == np.float32 else 1e-10,
        atol=1e-4 if dtype == np.float32 else 1e-10,
    )
    fresh = _core.gemm(a, b, trans_a=ta, trans_b=tb)
    assert fresh.dtype == dtype
    assert_close(
        fresh, reference.gemm(a, b, None, ta, tb), atol=1e-4 if dtype == np.float32 else 1e-10
    )


@pytest.mark.parametrize(("n", "fin", "fout"), [(1, 1, 1), (4, 3, 2), (33, 17, 9), (128, 784, 10)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_forward_backward_match_reference(rng, dtype, n, fin, fout, bias):
    x = rng.standard_normal((n, fin)).astype(dtype)
    w = rng.standard_normal((fout, fin)).astype(dtype)
    b = rng.standard_normal(fout).astype(dtype) if bias else None
    atol = 1e-4 if dtype == np.float32 else 1e-10
    assert_close(_core.linear_forward(x, w, b), reference.linear_forward(x, w, b), atol=atol)
    gy = rng.standard_normal((n, fout)).astype(dtype)
    gx, gw, gb = _core.linear_backward(gy, x, w, bias_grad=bias)
    rx, rw, rb = reference.linear_backward(gy, x, w)
    assert_close(gx, rx, atol=atol)
    assert_close(gw, rw, atol=atol)
    if bias:
        assert_close(gb, rb, atol=atol)
    else:
        assert gb is None


def test_linear_backward_skips_unrequested(rng):
    x, w, gy = rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), rng.standard_normal((3, 2))
    gx, gw, gb = _core.linear_backward(gy, x, w, input_grad=False, weight_grad=False)
    assert gx is None
    assert gw is None
    assert gb.shape == (2,)


def test_linear_gradcheck_float64(rng):
    x = rng.standard_normal((5, 4))
    w = rng.standard_normal((3, 4))
    b = rng.standard_normal(3)
    gy = rng.standard_normal((5, 3))

    def f():
        return float((_core.linear_forward(x, w, b) * gy).sum())

    gx, gw, gb = _core.linear_backward(gy, x, w)
    check_grad(f, x, gx)
    check_grad(f, w, gw)
    check_grad(f, b, gb)


def test_gemm_errors():
    a32 = np.ones((2, 3), np.float32)
    with pytest.raises(TypeError, match=r"gemm: `a` must be a numpy.ndarray, got list"):
        _core.gemm([[1.0]], a32)
    with pytest.raises(TypeError, match=r"`b` must have dtype float32.*got float64"):
        _core.gemm(a32, np.ones((3, 2)))
    with pytest.raises(TypeError, match=r"`a` must be float32 or float64, got int64"):
        _core.gemm(np.ones((2, 3), np.int64), a32)
    with pytest.raises(ValueError, match=r"inner dimensions differ"):
        _core.gemm(a32, a32)
    with pytest.raises(ValueError, match=r"`a` must be 2-D, got ndim=1"):
        _core.gemm(np.ones(3, np.float32), a32)
    with pytest.raises(ValueError, match=r"C-contiguous"):
        _core.gemm(np.ones((3, 2), np.float32).T, np.ones((3, 2), np.float32))
    with pytest.raises(ValueError, match=r"`out` must have shape \(2, 2\), got \(2, 3\)"):
        _core.gemm(a32, a32.T.copy(), out=np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"`beta` must be 0 when `out` is not given"):
        _core.gemm(a32, a32.T.copy(), beta=1.0)


def test_gemm_in_place_refuses_conversion():
    """A float64 or strided `out` must be refused, not silently copied (the update would vanish)."""
    a = np.ones((2, 3), np.float32)
    b = np.ones((3, 2), np.float32)
    with pytest.raises(TypeError, match="`out` must have dtype float32"):
        _core.gemm(a, b, out=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="`out` must be C-contiguous"):
        _core.gemm(a, b, out=np.zeros((2, 4), np.float32)[:, ::2])
    ro = np.zeros((2, 2), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="`out` must be writeable"):
        _core.gemm(a, b, out=ro)


def test_linear_errors():
    x = np.ones((4, 3))
    with pytest.raises(ValueError, match=r"`weight` has 5 input features but `input` has 3"):
        _core.linear_forward(x, np.ones((2, 5)))
    with pytest.raises(ValueError, match=r"`bias` must have shape \(2,\), got \(3,\)"):
        _core.linear_forward(x, np.ones((2, 3)), np.ones(3))
    with pytest.raises(ValueError, match=r"`grad_output` must have shape \(4, 2\)"):
        _core.linear_backward(np.ones((4, 3)), x, np.ones((2, 3)))
