"""The implicit-GEMM convolution paths (float32, stride 1, 'same' output size) against the
float64 reference and against the explicit im2col path on the BLAS."""

from __future__ import annotations

import numpy as np
import pytest

import dlx
from dlx import _core, reference

pytestmark = [
    pytest.mark.skipif(
        _core.gemm_backend() == "blas" or dlx.cpu_info()["kernels"].get("conv_implicit") is None,
        reason="no implicit convolution at this ISA level (or DLX_GEMM=blas)",
    ),
    pytest.mark.isa_levels,  # per-level code: CI runs this file at every ISA level (.ci/run)
]

# (c, o, h, w, kernel, padding, dilation): every one keeps the output size equal to the
# input size. c = 16 / 32 take the channels-last weight gradient, c = 1 / 3 the
# transposed-panel one (and the explicit input gradient), 8 x 8 and 7 x 9 sit at the
# thresholds of 64 and 32 output positions.
CASES = [
    (1, 16, 28, 28, 3, 1, 1),
    (3, 5, 9, 13, 3, 1, 1),
    (16, 16, 14, 14, 3, 1, 1),
    (32, 33, 8, 8, 3, 1, 1),
    (16, 8, 7, 9, 3, 1, 1),
    (16, 12, 11, 10, 5, 2, 1),
    (32, 16, 12, 12, 3, 2, 2),
    (8, 4, 10, 12, (3, 5), (1, 2), 1),
    # >= 512 positions and <= 16 rows: conv_rows_direct (forward: o rows, input gradient:
    # c rows), one image per call
    (16, 12, 24, 24, 3, 1, 1),
    (8, 16, 23, 25, 5, 2, 1),
    (12, 5, 26, 20, 3, 2, 2),
    # more than 64 taps: the packers compute the tap masks row by row
    (2, 3, 12, 12, 9, 4, 1),
]


def _data(rng, c, o, h, w, kernel):
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    x = rng.standard_normal((3, c, h, w)).astype(np.float32)
    wt = (rng.standard_normal((o, c, kh, kw)) / np.sqrt(c * kh * kw)).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32)
    return x, wt, b


def _close(got, want):
    scale = np.abs(want).max() + 1e-12
    np.testing.assert_allclose(got, want, rtol=0, atol=3e-5 * scale)


@pytest.mark.parametrize(("c", "o", "h", "w", "kernel", "padding", "dilation"), CASES)
def test_forward_and_gradients_match_reference(rng, c, o, h, w, kernel, padding, dilation):
    x, wt, b = _data(rng, c, o, h, w, kernel)
    y = _core.conv2d_forward(x, wt, b, 1, padding, dilation)
    assert y.shape == (3, o, h, w)
    x64, w64, b64 = x.astype(np.float64), wt.astype(np.float64), b.astype(np.float64)
    _close(y, reference.conv2d_forward(x64, w64, b64, 1, padding, dilation))
    gy = rng.standard_normal(y.shape).astype(np.float32)
    gx, gw, gb = _core.conv2d_backward(gy, x, wt, 1, padding, dilation)
    rgx, rgw, rgb = reference.conv2d_backward(gy.astype(np.float64), x64, w64, 1, padding, dilation)
    _close(gx, rgx)
    _close(gw, rgw)
    _close(gb, rgb)


@pytest.mark.parametrize(("c", "o", "h", "w", "kernel", "padding", "dilation"), CASES[:4])
def test_implicit_agrees_with_explicit_blas_path(rng, c, o, h, w, kernel, padding, dilation):
    x, wt, b = _data(rng, c, o, h, w, kernel)
    gy = rng.standard_normal((3, o, h, w)).astype(np.float32)
    try:
        dlx.set_gemm_backend("blas")
        ref = [_core.conv2d_forward(x, wt, b, 1, padding, dilation)]
        ref += list(_core.conv2d_backward(gy, x, wt, 1, padding, dilation))
    finally:
        dlx.set_gemm_backend("dlx")
    got = [_core.conv2d_forward(x, wt, b, 1, padding, dilation)]
    got += list(_core.conv2d_backward(gy, x, wt, 1, padding, dilation))
    for g, r in zip(got, ref, strict=True):
        _close(g, r)


def test_partial_gradients_only(rng):
    x, wt, _ = _data(rng, 16, 8, 12, 12, 3)
    gy = rng.standard_normal((3, 8, 12, 12)).astype(np.float32)
    full = _core.conv2d_backward(gy, x, wt, 1, 1)
    gx, gw, gb = _core.conv2d_backward(gy, x, wt, 1, 1, input_grad=False, bias_grad=False)
    assert gx is None
    assert gb is None
    np.testing.assert_array_equal(gw, full[1])
    gx, gw, gb = _core.conv2d_backward(gy, x, wt, 1, 1, weight_grad=False)
    assert gw is None
    np.testing.assert_array_equal(gx, full[0])


def test_same_bits_for_any_thread_count(rng):
    x, wt, b = _data(rng, 32, 32, 16, 16, 3)
    x = np.repeat(x, 7, axis=0)  # 21 images: several parts, uneven split
    gy = rng.standard_normal((21, 32, 16, 16)).astype(np.float32)
    before = dlx.get_num_threads()
    out = []
    try:
        for n in (1, 2):
            dlx.set_num_threads(n)
            out.append(
                [_core.conv2d_forward(x, wt, b, 1, 1), *_core.conv2d_backward(gy, x, wt, 1, 1)]
            )
    finally:
        dlx.set_num_threads(before)
    for one, two in zip(*out, strict=True):
        np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize(
    ("n", "c", "h", "k"), [(25, 32, 7, 3), (9, 16, 14, 3), (4, 3, 6, 3), (5, 16, 8, 9)]
)
def test_small_planes_side_by_side(rng, n, c, h, k):
    # 7x7 planes go 11 to a GEMM (25 = 11 + 11 + 3), 14x14 three; 6x6 stays per image; a
    # 9x9 kernel (81 taps) packs one image at a time.
    x = rng.standard_normal((n, c, h, h)).astype(np.float32)
    wt = (rng.standard_normal((16, c, k, k)) / np.sqrt(k * k * c)).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)
    gy = rng.standard_normal((n, 16, h, h)).astype(np.float32)
    p = k // 2
    y = _core.conv2d_forward(x, wt, b, 1, p)
    gx, gw, gb = _core.conv2d_backward(gy, x, wt, 1, p)
    x64, w64 = x.astype(np.float64), wt.astype(np.float64)
    _close(y, reference.conv2d_forward(x64, w64, b.astype(np.float64), 1, p))
    rgx, rgw, rgb = reference.conv2d_backward(gy.astype(np.float64), x64, w64, 1, p)
    _close(gx, rgx)
    _close(gw, rgw)
    _close(gb, rgb)
