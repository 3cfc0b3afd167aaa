"""Every convolution algorithm (DLX_CONV_ALGO: implicit GEMM, im2col + GEMM, direct
depthwise, and the automatic per-shape choice) against the float64 NumPy reference on the
same shapes: strides 1-3, paddings 0-3, dilations 1-2, groups, odd sizes, batch 1."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from dlx_testing import check_grad

import dlx
from dlx import _core, reference

pytestmark = pytest.mark.isa_levels  # per-level kernels: CI reruns this file at every level

ALGOS = ["auto", "implicit", "im2col", "depthwise"]

# (n, c, h, w, o, kernel, stride, padding, dilation, groups)
CASES = [
    (2, 3, 9, 11, 4, 3, 1, 0, 1, 1),
    (1, 4, 14, 14, 5, 3, 1, 2, 1, 1),  # DLFS 'padding 2' geometry, batch 1
    (2, 5, 13, 10, 6, 3, 2, 1, 1, 1),
    (3, 2, 11, 12, 3, 5, 3, 3, 1, 1),
    (2, 16, 9, 9, 8, 3, 2, 1, 2, 1),  # c % 16 == 0: channels-last weight gradient
    (2, 16, 8, 8, 32, 1, 2, 0, 1, 1),  # 1x1 stride-2 shortcut
    (1, 3, 17, 15, 8, 7, 2, 3, 1, 1),  # stem-like
    (2, 8, 10, 10, 4, (3, 5), (1, 2), (2, 0), (2, 1), 1),
    (3, 12, 6, 7, 20, 3, 1, 3, 1, 1),  # padding larger than the kernel's reach
    (2, 6, 9, 8, 4, 3, 1, 1, 1, 2),  # grouped, 3 channels per group
    (2, 8, 11, 9, 8, 3, 1, 1, 1, 8),  # depthwise
    (1, 6, 12, 13, 6, 3, 2, 1, 1, 6),  # depthwise, stride 2, batch 1
    (2, 4, 10, 9, 8, 5, 3, 2, 2, 4),  # depthwise, multiplier 2, stride 3, dilation 2
    (2, 5, 7, 8, 5, 1, 1, 0, 1, 5),  # depthwise 1x1
    (1, 1, 16, 16, 6, 5, 1, 0, 1, 1),  # one input channel (LeNet c1): depthwise applies
    (2, 3, 30, 31, 16, 3, 2, 0, 1, 1),  # >= 512 columns... of 15 x 15: direct rows
    (1, 16, 26, 24, 12, 3, 1, 0, 2, 1),  # one image, <= 16 rows, valid, dilated
    # strided input gradients in phases (>= 8 channels): stride 3 with padding, and a kernel
    # smaller than the stride (phases no tap reaches)
    (2, 8, 13, 11, 6, 5, 3, 3, 1, 1),
    (1, 9, 10, 11, 4, 2, 3, 0, 1, 1),
]
IDS = [f"n{c[0]}c{c[1]}h{c[2]}w{c[3]}o{c[4]}k{c[5]}s{c[6]}p{c[7]}d{c[8]}g{c[9]}" for c in CASES]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _implicit_available():
    return _core.gemm_backend() != "blas" and dlx.cpu_info()["kernels"].get("conv_implicit")


def _auto_implicit(c, h, w, kernel, stride, padding, dilation):
    """The cost rule's implicit cases: stride-1 'same' geometry, or strided with >= 8 channels."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = map(_pair, (kernel, stride, padding, dilation))
    if (sh, sw) != (1, 1):
        return c >= 8
    return h + 2 * ph - dh * (kh - 1) == h and w + 2 * pw - dw * (kw - 1) == w


def _expected(algo, dtype, n, c, h, w, o, kernel, stride, padding, dilation, groups):
    """The algorithm that should run: the forced one where it applies, else the rule."""
    del n, o
    depthwise = c == groups
    one_by_one = _pair(kernel) == (1, 1) and _pair(stride) == (1, 1) and _pair(padding) == (0, 0)
    implicit = dtype == np.float32 and groups == 1 and not one_by_one and _implicit_available()
    if algo == "implicit" and implicit:
        return "implicit"
    if algo == "depthwise" and depthwise:
        return "depthwise"
    if algo == "im2col":
        return "im2col"
    if depthwise and groups > 1:
        return "depthwise"
    auto = _auto_implicit(c, h, w, kernel, stride, padding, dilation)
    return "implicit" if implicit and auto else "im2col"


@pytest.fixture(params=ALGOS)
def algo(request):
    previous = _core._conv2d_algo()
    _core._conv2d_algo(request.param)
    yield request.param
    _core._conv2d_algo(previous)


def _data(rng, dtype, n, c, h, w, o, kernel, groups):
    kh, kw = _pair(kernel)
    x = rng.standard_normal((n, c, h, w))
    wt = rng.standard_normal((o, c // groups, kh, kw)) / np.sqrt(c // groups * kh * kw)
    b = rng.standard_normal(o)
    return x.astype(dtype), wt.astype(dtype), b.astype(dtype)


def _close(got, want, dtype):
    scale = np.abs(want).max() + 1e-12
    tol = 5e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, want, rtol=0, atol=tol * scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("n", "c", "h", "w", "o", "k", "s", "p", "d", "g"), CASES, ids=IDS)
def test_algorithm_matches_reference(rng, algo, dtype, n, c, h, w, o, k, s, p, d, g):
    x, wt, b = _data(rng, dtype, n, c, h, w, o, k, g)
    want = _expected(algo, dtype, n, c, h, w, o, k, s, p, d, g)
    assert _core._conv2d_choice(x, wt, s, p, d, g) == want
    x64, w64, b64 = (a.astype(np.float64) for a in (x, wt, b))
    y = _core.conv2d_forward(x, wt, b, s, p, d, g)
    y_ref = reference.conv2d_forward(x64, w64, b64, s, p, d, g)
    assert y.dtype == dtype
    _close(y, y_ref, dtype)
    gy = rng.standard_normal(y.shape).astype(dtype)
    got = _core.conv2d_backward(gy, x, wt, s, p, d, g)
    want = reference.conv2d_backward(gy.astype(np.float64), x64, w64, s, p, d, g)
    for a, e in zip(got, want, strict=True):
        assert a.dtype == dtype
        _close(a, e, dtype)


@pytest.mark.parametrize(("n", "c", "h", "w", "o", "k", "s", "p", "d", "g"), CASES[::2])
def test_algorithm_partial_gradients(rng, algo, n, c, h, w, o, k, s, p, d, g):
    x, wt, b = _data(rng, np.float32, n, c, h, w, o, k, g)
    gy = rng.standard_normal(_core.conv2d_forward(x, wt, b, s, p, d, g).shape).astype(np.float32)
    full = _core.conv2d_backward(gy, x, wt, s, p, d, g)
    for mask in [(True, False, False), (False, True, False), (False, False, True)]:
        part = _core.conv2d_backward(gy, x, wt, s, p, d, g, *mask)
        for want, got, asked in zip(full, part, mask, strict=True):
            if asked:
                np.testing.assert_array_equal(got, want)
            else:
                assert got is None


# float64: depthwise and im2col run it (the implicit GEMM is float32 only).
@pytest.mark.parametrize(
    ("n", "c", "h", "w", "o", "k", "s", "p", "d", "g"),
    [CASES[i] for i in (2, 3, 10, 11, 12, 13, 14)],
)
@pytest.mark.parametrize("forced", ["im2col", "depthwise"])
def test_algorithm_gradcheck_float64(rng, forced, n, c, h, w, o, k, s, p, d, g):
    previous = _core._conv2d_algo(forced)
    try:
        x, wt, b = _data(rng, np.float64, n, c, h, w, o, k, g)
        gy = rng.standard_normal(_core.conv2d_forward(x, wt, b, s, p, d, g).shape)

        def f():
            return float((_core.conv2d_forward(x, wt, b, s, p, d, g) * gy).sum())

        gx, gw, gb = _core.conv2d_backward(gy, x, wt, s, p, d, g)
        check_grad(f, x, gx)
        check_grad(f, wt, gw)
        check_grad(f, b, gb)
    finally:
        _core._conv2d_algo(previous)


def test_algorithm_through_autograd_gradcheck(algo, rng):
    # F.conv2d on Tensors (the layer's path) with a strided, dilated, padded depthwise and a
    # dense convolution, float64 against finite differences.
    for c, o, g, s, p, d in [(4, 4, 4, 2, 1, 1), (3, 5, 1, 2, 3, 2)]:
        x = dlx.tensor(rng.standard_normal((2, c, 9, 8)), requires_grad=True)
        wt = dlx.tensor(rng.standard_normal((o, c // g, 3, 3)), requires_grad=True)
        b = dlx.tensor(rng.standard_normal(o), requires_grad=True)
        assert dlx.gradcheck(
            lambda x, wt, b, s=s, p=p, d=d, g=g: dlx.nn.functional.conv2d(x, wt, b, s, p, d, g),
            (x, wt, b),
        )


@pytest.mark.parametrize(("n", "c", "h", "w", "o", "k", "s", "p", "d", "g"), CASES[1::3])
def test_algorithm_results_independent_of_thread_count(rng, algo, n, c, h, w, o, k, s, p, d, g):
    if _core.gemm_backend() == "blas" and algo != "depthwise":
        pytest.skip("OpenBLAS may split products differently per thread count")
    n = 7
    x, wt, b = _data(rng, np.float32, n, c, h, w, o, k, g)
    gy = rng.standard_normal(_core.conv2d_forward(x, wt, b, s, p, d, g).shape).astype(np.float32)
    saved = dlx.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            dlx.set_num_threads(threads)
            y = _core.conv2d_forward(x, wt, b, s, p, d, g)
            results.append((y, *_core.conv2d_backward(gy, x, wt, s, p, d, g)))
    finally:
        dlx.set_num_threads(saved)
    for one, two in zip(*results, strict=True):
        np.testing.assert_array_equal(one, two)


def test_conv2d_algo_errors():
    with pytest.raises(ValueError, match=r"`name` must be one of auto, implicit, im2col.*'fast'"):
        _core._conv2d_algo("fast")
    with pytest.raises(TypeError, match="`name` must be a str, got int"):
        _core._conv2d_algo(3)
    x = np.ones((1, 2, 5, 5), np.float32)
    with pytest.raises(ValueError, match="_conv2d_choice: `input` has 2 channels"):
        _core._conv2d_choice(x, np.ones((2, 1, 3, 3), np.float32), groups=3)


def _run(env_value, code):
    env = {**os.environ, "DLX_CONV_ALGO": env_value}
    return subprocess.run(
        [sys.executable, "-P", "-c", code], env=env, capture_output=True, text=True, check=False
    )


def test_dlx_conv_algo_environment():
    code = (
        "import numpy as np, dlx\n"
        "from dlx import _core\n"
        "x = np.ones((1, 4, 6, 6), np.float32)\n"
        "w = np.ones((4, 1, 3, 3), np.float32)\n"
        "print(_core._conv2d_algo(), _core._conv2d_choice(x, w, groups=4))\n"
        "_core.conv2d_forward(x, w, groups=4)\n"
    )
    done = _run("im2col", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["im2col", "im2col"]
    done = _run("", code)  # unset or empty: the automatic choice
    assert done.stdout.split() == ["auto", "depthwise"], done.stderr


def test_dlx_conv_algo_unknown_value_fails_at_first_use():
    code = (
        "import numpy as np, dlx\n"
        "from dlx import _core\n"
        "x = np.ones((1, 1, 5, 5))\n"
        "try:\n"
        "    _core.conv2d_forward(x, np.ones((1, 1, 3, 3)))\n"
        "except ValueError as e:\n"
        "    print('ValueError', e)\n"
    )
    done = _run("winograd", code)
    assert done.returncode == 0, done.stderr
    assert "ValueError" in done.stdout
    assert "`DLX_CONV_ALGO` must be one of auto, implicit, im2col, depthwise" in done.stdout
    assert "'winograd'" in done.stdout
