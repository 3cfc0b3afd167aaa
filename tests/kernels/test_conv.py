from __future__ import annotations

import contextlib

import numpy as np
import pytest
from dlx_testing import assert_close, check_grad, own_float32_gemm

import dlx
from dlx import _core, reference

# Kernels with per-level code: CI runs this file again at every ISA level (.ci/run).
pytestmark = pytest.mark.isa_levels

# (n, c, h, w, o, kernel, stride, padding, dilation, groups)
CASES = [
    (1, 1, 5, 5, 1, 3, 1, 0, 1, 1),
    (2, 3, 7, 5, 4, (3, 2), 1, 1, 1, 1),
    (3, 4, 9, 8, 6, 3, 2, 1, 1, 2),
    (2, 4, 8, 8, 4, 3, 1, 1, 1, 4),  # depthwise
    (2, 4, 8, 8, 8, 3, 1, 1, 1, 4),  # depthwise, channel multiplier 2
    (2, 6, 11, 9, 4, (2, 3), 3, 2, 2, 2),
    (1, 3, 6, 6, 5, 1, 1, 0, 1, 1),  # 1x1: im2col skipped
    (2, 4, 6, 6, 6, 1, 1, 0, 2, 2),  # 1x1 grouped (dilation irrelevant)
    (2, 4, 7, 6, 6, 1, 2, 0, 1, 2),  # 1x1 with stride
    (2, 3, 5, 7, 2, 1, 1, 1, 1, 1),  # 1x1 with padding
    (4, 2, 7, 7, 3, (1, 3), (2, 1), (0, 2), (1, 2), 1),
    (5, 3, 10, 10, 8, 3, 1, 2, 2, 1),
    (2, 3, 4, 4, 2, 5, 1, 2, 1, 1),  # kernel larger than the input
    (2, 3, 9, 6, 4, (5, 3), 1, (0, 1), 1, 1),  # 'same' width only
    (3, 2, 3, 9, 2, (3, 1), (1, 3), 1, 1, 1),
    (0, 3, 5, 5, 4, 3, 1, 1, 1, 1),  # empty batch
    (8, 16, 12, 12, 16, 3, 1, 1, 1, 1),  # large enough for the threaded paths
    (3, 8, 16, 16, 8, 5, 1, 2, 1, 2),
    (40, 2, 6, 6, 3, 3, 1, 1, 1, 1),  # several images per weight-gradient chunk
    (37, 4, 8, 8, 8, 3, 1, 1, 1, 2),  # same, on the threaded path
]
IDS = [f"n{c[0]}c{c[1]}h{c[2]}w{c[3]}o{c[4]}k{c[5]}s{c[6]}p{c[7]}d{c[8]}g{c[9]}" for c in CASES]


def _tol(dtype):
    return {"rtol": 1e-5, "atol": 1e-4} if dtype == np.float32 else {}


def _make(rng, dtype, n, c, h, w, o, kernel, groups, bias=True):
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((o, c // groups, kh, kw)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype) if bias else None
    return x, wt, b


def _f64(a):
    return None if a is None else a.astype(np.float64)


@pytest.mark.parametrize(("n", "c", "h", "w", "o", "k", "s", "p", "d", "g"), CASES, ids=IDS)
def test_im2col_col2im_match_reference(rng, dtype, n, c, h, w, o, k, s, p, d, g):
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    cols = _core.im2col(x, k, s, p, d)
    expected = reference.im2col(x, k, s, p, d)
    assert cols.dtype == dtype
    assert cols.shape == expected.shape
    np.testing.assert_array_equal(cols, expected)  # a pure copy: exact
    r = rng.standard_normal(cols.shape).astype(dtype)
    folded = _core.col2im(r, x.shape, k, s, p, d)
    assert folded.shape == x.shape
    assert_close(folded, reference.col2im(_f64(r), x.shape, k, s, p, d), dtype, **_tol(dtype))


@pytest.mark.parametrize(("n", "c", "h", "w", "o", "k", "s", "p", "d", "g"), CASES[:8], ids=IDS[:8])
def test_col2im_is_adjoint_of_im2col(rng, n, c, h, w, o, k, s, p, d, g):
    x = rng.standard_normal((n, c, h, w))
    cols = _core.im2col(x, k, s, p, d)
    r = rng.standard_normal(cols.shape)
    np.testing.assert_allclose(np.vdot(cols, r), np.vdot(x, _core.col2im(r, x.shape, k, s, p, d)))


@pytest.mark.parametrize(("n", "c", "h", "w", "o", "k", "s", "p", "d", "g"), CASES, ids=IDS)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d_forward_backward_match_reference(rng, dtype, n, c, h, w, o, k, s, p, d, g, bias):
    x, wt, b = _make(rng, dtype, n, c, h, w, o, k, g, bias)
    y = _core.conv2d_forward(x, wt, b, s, p, d, g)
    ry = reference.conv2d_forward(_f64(x), _f64(wt), _f64(b), s, p, d, g)
    assert y.dtype == dtype
    assert y.shape == ry.shape
    assert_close(y, ry, dtype, **_tol(dtype))

    gy = rng.standard_normal(y.shape).astype(dtype)
    gx, gw, gb = _core.conv2d_backward(gy, x, wt, s, p, d, g, bias_grad=bias)
    rx, rw, rb = reference.conv2d_backward(_f64(gy), _f64(x), _f64(wt), s, p, d, g)
    assert gx.shape == x.shape
    assert gw.shape == wt.shape
    assert_close(gx, rx, dtype, **_tol(dtype))
    assert_close(gw, rw, dtype, **_tol(dtype))
    if bias:
        assert gb.shape == (o,)
        assert_close(gb, rb, dtype, **_tol(dtype))
    else:
        assert gb is None


def test_conv2d_backward_skips_unrequested(rng):
    x, wt, _ = _make(rng, np.float64, 2, 3, 6, 6, 4, 3, 1)
    gy = rng.standard_normal((2, 4, 4, 4))
    rx, rw, rb = reference.conv2d_backward(gy, x, wt)
    for flags in [(True, False, False), (False, True, False), (False, False, True)]:
        got = _core.conv2d_backward(
            gy, x, wt, input_grad=flags[0], weight_grad=flags[1], bias_grad=flags[2]
        )
        for want, g, r in zip(flags, got, (rx, rw, rb), strict=True):
            if want:
                assert_close(g, r)
            else:
                assert g is None


def test_conv2d_empty_batch_gives_zero_grads():
    x = np.zeros((0, 3, 5, 5), np.float32)
    wt = np.ones((4, 3, 3, 3), np.float32)
    y = _core.conv2d_forward(x, wt, np.ones(4, np.float32), padding=1)
    assert y.shape == (0, 4, 5, 5)
    gx, gw, gb = _core.conv2d_backward(y, x, wt, padding=1)
    assert gx.shape == (0, 3, 5, 5)
    np.testing.assert_array_equal(gw, np.zeros((4, 3, 3, 3), np.float32))
    np.testing.assert_array_equal(gb, np.zeros(4, np.float32))


GRAD_CASES = [
    (2, 3, 5, 4, 2, 3, 1, 1, 1, 1),
    (2, 4, 6, 5, 4, (3, 2), 2, 1, (2, 1), 2),
    (1, 3, 5, 5, 6, 3, 1, 0, 1, 3),  # depthwise with multiplier 2
    (2, 4, 3, 4, 2, 1, 1, 0, 1, 2),  # 1x1
    (1, 2, 7, 6, 2, 2, 3, 2, 2, 1),
]


@pytest.mark.parametrize(("n", "c", "h", "w", "o", "k", "s", "p", "d", "g"), GRAD_CASES)
def test_conv2d_gradcheck_float64(rng, n, c, h, w, o, k, s, p, d, g):
    x, wt, b = _make(rng, np.float64, n, c, h, w, o, k, g)
    gy = rng.standard_normal(_core.conv2d_forward(x, wt, b, s, p, d, g).shape)

    def f():
        return float((_core.conv2d_forward(x, wt, b, s, p, d, g) * gy).sum())

    gx, gw, gb = _core.conv2d_backward(gy, x, wt, s, p, d, g)
    check_grad(f, x, gx)
    check_grad(f, wt, gw)
    check_grad(f, b, gb)


@pytest.mark.parametrize("n", [1, 3, 37])
def test_conv2d_results_independent_of_thread_count(rng, n):
    # Batches split over the threads (37 images) run one single-threaded GEMM per image, the
    # same under any BLAS; small batches share one product between the threads, which only
    # dlx's own GEMM computes identically for any split (see own_float32_gemm).
    x, wt, b = _make(rng, np.float32, n, 16, 14, 14, 16, 3, 1)
    gy = rng.standard_normal((n, 16, 14, 14)).astype(np.float32)
    saved = dlx.get_num_threads()
    results = []
    with own_float32_gemm() if n < 37 else contextlib.nullcontext():
        try:
            for threads in (1, 2):
                dlx.set_num_threads(threads)
                y = _core.conv2d_forward(x, wt, b, padding=1)
                results.append((y, *_core.conv2d_backward(gy, x, wt, padding=1)))
        finally:
            dlx.set_num_threads(saved)
    for one, two in zip(*results, strict=True):
        np.testing.assert_array_equal(one, two)


def test_conv2d_errors():
    x = np.ones((2, 4, 5, 5))
    w = np.ones((3, 4, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d_forward: `input` must be 4-D, got ndim=3"):
        _core.conv2d_forward(np.ones((4, 5, 5)), w)
    with pytest.raises(ValueError, match=r"`weight` must be 4-D, got ndim=2"):
        _core.conv2d_forward(x, np.ones((3, 4)))
    with pytest.raises(
        ValueError,
        match=r"`weight` has 3 input channels per group but `input` has 4 channels and groups=1",
    ):
        _core.conv2d_forward(x, np.ones((3, 3, 3, 3)))
    with pytest.raises(
        ValueError, match=r"`input` has 4 channels, which is not divisible by groups=3"
    ):
        _core.conv2d_forward(x, w, groups=3)
    with pytest.raises(ValueError, match=r"`weight` has 3 output channels, .* groups=2"):
        _core.conv2d_forward(x, np.ones((3, 2, 3, 3)), groups=2)
    with pytest.raises(ValueError, match=r"`groups` must be a positive int, got 0"):
        _core.conv2d_forward(x, w, groups=0)
    with pytest.raises(ValueError, match=r"`stride` must be positive, got \(0, 1\)"):
        _core.conv2d_forward(x, w, stride=(0, 1))
    with pytest.raises(ValueError, match=r"`dilation` must be positive, got \(-1, -1\)"):
        _core.conv2d_forward(x, w, dilation=-1)
    with pytest.raises(ValueError, match=r"`padding` must be non-negative, got \(1, -2\)"):
        _core.conv2d_forward(x, w, padding=(1, -2))
    with pytest.raises(
        ValueError, match=r"`stride` must be an int or a pair of ints, got 3 values"
    ):
        _core.conv2d_forward(x, w, stride=(1, 1, 1))
    with pytest.raises(ValueError, match=r"`weight` must have a positive kernel size"):
        _core.conv2d_forward(x, np.ones((3, 4, 0, 3)))
    with pytest.raises(
        ValueError, match=r"output size would be \(0, 0\): input size \(5, 5\) .* padding \(0, 0\)"
    ):
        _core.conv2d_forward(x, np.ones((3, 4, 6, 6)))
    with pytest.raises(ValueError, match=r"input size \(5, 5\) .*dilation \(3, 3\)"):
        _core.conv2d_forward(x, w, dilation=3)
    with pytest.raises(ValueError, match=r"`bias` must have shape \(3,\), got \(4,\)"):
        _core.conv2d_forward(x, w, np.ones(4))
    with pytest.raises(TypeError, match=r"`weight` must have dtype float64.*got float32"):
        _core.conv2d_forward(x, w.astype(np.float32))
    with pytest.raises(TypeError, match=r"`bias` must have dtype float64.*got float32"):
        _core.conv2d_forward(x, w, np.ones(3, np.float32))
    with pytest.raises(TypeError, match=r"`input` must be float32 or float64, got int64"):
        _core.conv2d_forward(x.astype(np.int64), w)
    with pytest.raises(TypeError, match=r"`input` must be a numpy.ndarray, got list"):
        _core.conv2d_forward([[1.0]], w)
    with pytest.raises(ValueError, match=r"`input` must be C-contiguous"):
        _core.conv2d_forward(np.ones((2, 4, 5, 10))[..., ::2], w)


def test_conv2d_backward_errors():
    x = np.ones((2, 4, 5, 5))
    w = np.ones((3, 4, 3, 3))
    with pytest.raises(
        ValueError,
        match=r"conv2d_backward: `grad_output` must have shape "
        r"\(2, 3, 3, 3\), got \(2, 3, 5, 5\)",
    ):
        _core.conv2d_backward(np.ones((2, 3, 5, 5)), x, w)
    with pytest.raises(ValueError, match=r"conv2d_backward: `weight` has 2 input channels"):
        _core.conv2d_backward(np.ones((2, 3, 3, 3)), x, np.ones((3, 2, 3, 3)))
    with pytest.raises(TypeError, match=r"`input` must have dtype float32.*got float64"):
        _core.conv2d_backward(np.ones((2, 3, 3, 3), np.float32), x, w)
    with pytest.raises(ValueError, match=r"`stride` must be positive"):
        _core.conv2d_backward(np.ones((2, 3, 3, 3)), x, w, stride=0)


def test_im2col_col2im_errors():
    x = np.ones((2, 3, 5, 5))
    with pytest.raises(ValueError, match=r"im2col: `input` must be 4-D"):
        _core.im2col(np.ones((3, 5, 5)), 3)
    with pytest.raises(ValueError, match=r"im2col: `kernel_size` must be positive, got \(0, 3\)"):
        _core.im2col(x, (0, 3))
    with pytest.raises(ValueError, match=r"im2col: output size would be"):
        _core.im2col(x, 7)
    with pytest.raises(ValueError, match=r"col2im: `cols` must have shape \(2, 27, 9\), got"):
        _core.col2im(np.ones((2, 27, 10)), x.shape, 3)
    with pytest.raises(ValueError, match=r"col2im: `input_shape` must be a tuple of 4 ints"):
        _core.col2im(np.ones((2, 27, 9)), (3, 5, 5), 3)
    with pytest.raises(TypeError, match=r"col2im: `input_shape` must be a tuple of 4 ints"):
        _core.col2im(np.ones((2, 27, 9)), 5, 3)
    with pytest.raises(TypeError, match=r"col2im: `input_shape` .* got an element of type str"):
        _core.col2im(np.ones((2, 27, 9)), (2, 3, "5", 5), 3)
    with pytest.raises(ValueError, match=r"col2im: `input_shape` must be non-negative"):
        _core.col2im(np.ones((2, 27, 9)), (2, -3, 5, 5), 3)
    with pytest.raises(TypeError, match=r"col2im: `cols` must be float32 or float64"):
        _core.col2im(np.ones((2, 27, 9), np.int32), x.shape, 3)


TORCH_CASES = [
    (2, 3, 8, 7, 4, 3, 1, 1, 1, 1),
    (3, 4, 9, 9, 8, (3, 2), 2, (1, 0), (2, 1), 2),
    (2, 4, 8, 8, 4, 3, 1, 1, 1, 4),
    (2, 6, 6, 6, 3, 1, 1, 0, 1, 3),
]


@pytest.mark.parametrize(("n", "c", "h", "w", "o", "k", "s", "p", "d", "g"), TORCH_CASES)
def test_conv2d_matches_torch(rng, dtype, n, c, h, w, o, k, s, p, d, g):
    torch = pytest.importorskip("torch")
    x, wt, b = _make(rng, dtype, n, c, h, w, o, k, g)
    tx, tw, tb = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, wt, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, s, p, d, g)
    y = _core.conv2d_forward(x, wt, b, s, p, d, g)
    assert_close(y, ty.detach().numpy(), dtype, **_tol(dtype))
    gy = rng.standard_normal(y.shape).astype(dtype)
    tgx, tgw, tgb = torch.autograd.grad(ty, (tx, tw, tb), torch.from_numpy(gy))
    gx, gw, gb = _core.conv2d_backward(gy, x, wt, s, p, d, g)
    assert_close(gx, tgx.numpy(), dtype, **_tol(dtype))
    assert_close(gw, tgw.numpy(), dtype, **_tol(dtype))
    assert_close(gb, tgb.numpy(), dtype, **_tol(dtype))
