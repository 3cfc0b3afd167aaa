from __future__ import annotations

import numpy as np
import pytest
from dlx_testing import assert_close, check_grad

import dlx
from dlx import _core, reference

# Kernels with per-level code: CI runs this file again at every ISA level (.ci/run).
pytestmark = pytest.mark.isa_levels

# (input shape, kernel_size, stride, padding, dilation, ceil_mode)
MAX_CASES = [
    ((2, 3, 8, 8), 2, None, 0, 1, False),
    ((1, 1, 7, 5), 3, 2, 1, 1, False),
    ((3, 2, 9, 6), (3, 2), (2, 1), (1, 0), 1, True),
    ((2, 2, 10, 7), 3, 1, 1, 2, False),  # overlapping, dilated
    ((1, 2, 11, 13), (2, 3), (3, 2), (1, 1), (2, 3), True),
    ((2, 1, 5, 5), 2, 2, 1, 1, True),
    ((1, 1, 1, 1), 1, 1, 0, 1, False),
    ((4, 2, 6, 9), 4, 3, 2, 1, True),
    ((0, 3, 8, 8), 2, 2, 0, 1, False),  # empty batch
]
# (input shape, kernel_size, stride, padding, ceil_mode)
AVG_CASES = [
    ((2, 3, 8, 8), 2, None, 0, False),
    ((1, 1, 7, 5), 3, 2, 1, False),
    ((3, 2, 9, 6), (3, 2), (2, 1), (1, 0), True),
    ((2, 2, 10, 7), 3, 1, 1, False),
    ((2, 1, 5, 5), 2, 2, 1, True),
    ((1, 2, 6, 9), 4, 3, 2, True),
    ((1, 1, 1, 1), 1, 1, 0, False),
    ((0, 3, 8, 8), 2, 2, 0, False),
]


@pytest.mark.parametrize(("shape", "k", "s", "p", "d", "ceil"), MAX_CASES)
def test_max_pool2d_matches_reference(rng, dtype, shape, k, s, p, d, ceil):
    x = rng.standard_normal(shape).astype(dtype)
    y, idx = _core.max_pool2d_forward(x, k, s, p, d, ceil)
    ry, ridx = reference.max_pool2d_forward(x, k, s, p, d, ceil)
    assert y.dtype == dtype
    assert idx.dtype == np.int64
    assert y.shape == ry.shape
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(idx, ridx)
    gy = rng.standard_normal(y.shape).astype(dtype)
    gx = _core.max_pool2d_backward(gy, idx, shape)
    assert gx.shape == shape
    assert_close(gx, reference.max_pool2d_backward(gy, idx, shape))


@pytest.mark.parametrize(("shape", "k", "s", "p", "ceil"), AVG_CASES)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d_matches_reference(rng, dtype, shape, k, s, p, ceil, count_include_pad):
    x = rng.standard_normal(shape).astype(dtype)
    y = _core.avg_pool2d_forward(x, k, s, p, ceil, count_include_pad)
    ry = reference.avg_pool2d_forward(x, k, s, p, ceil, count_include_pad)
    assert y.dtype == dtype
    assert y.shape == ry.shape
    assert_close(y, ry)
    gy = rng.standard_normal(y.shape).astype(dtype)
    gx = _core.avg_pool2d_backward(gy, shape, k, s, p, ceil, count_include_pad)
    assert gx.shape == shape
    assert_close(gx, reference.avg_pool2d_backward(gy, shape, k, s, p, ceil, count_include_pad))


def test_max_pool2d_ties_first_maximum_wins(dtype):
    # Every window is constant: the first tap in row-major order (inside the input) wins.
    x = np.ones((1, 1, 4, 4), dtype)
    _, idx = _core.max_pool2d_forward(x, 2, 2)
    np.testing.assert_array_equal(idx[0, 0], [[0, 2], [8, 10]])
    _, idx = _core.max_pool2d_forward(x, 3, 1, 1)  # padding never wins a tie
    np.testing.assert_array_equal(idx[0, 0, 0], [0, 0, 1, 2])
    x = np.array([[[[1, 5, 5], [5, 0, 5]]]], dtype)
    y, idx = _core.max_pool2d_forward(x, (2, 3))
    assert y[0, 0, 0, 0] == 5
    assert idx[0, 0, 0, 0] == 1
    # Overlapping windows share the tied maximum; backward adds both contributions.
    gx = _core.max_pool2d_backward(
        np.ones((1, 1, 1, 2), dtype), *_core.max_pool2d_forward(x, (2, 2), 1)[1:], x.shape
    )
    np.testing.assert_array_equal(gx[0, 0], [[0, 2, 0], [0, 0, 0]])


def test_max_pool2d_all_minus_inf_window(dtype):
    x = np.full((1, 1, 2, 2), -np.inf, dtype)
    y, idx = _core.max_pool2d_forward(x, 2, 1, 1)
    assert np.all(y == -np.inf)
    np.testing.assert_array_equal(idx[0, 0], [[0, 0, 1], [0, 0, 1], [2, 2, 3]])


def test_max_pool2d_nan_propagates(dtype):
    x = np.array([[[[1, np.nan, 7, 2], [np.nan, 2, 3, 4]]]], dtype)
    y, idx = _core.max_pool2d_forward(x, 2)
    assert np.isnan(y[0, 0, 0, 0])
    assert y[0, 0, 0, 1] == 7
    assert idx[0, 0, 0, 0] == 4  # the last NaN, as in PyTorch
    ry, ridx = reference.max_pool2d_forward(x, 2)
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(idx, ridx)


def test_max_pool2d_window_outside_input_gives_minus_one(dtype):
    # Dilation 3 puts both taps of the window outside a 2x2 input: -inf, index -1, no grad.
    x = np.arange(4, dtype=dtype).reshape(1, 1, 2, 2)
    y, idx = _core.max_pool2d_forward(x, 2, 1, 1, 3)
    assert y.shape == (1, 1, 1, 1)
    assert y[0, 0, 0, 0] == -np.inf
    assert idx[0, 0, 0, 0] == -1
    np.testing.assert_array_equal(reference.max_pool2d_forward(x, 2, 1, 1, 3)[1], idx)
    gx = _core.max_pool2d_backward(np.ones_like(y), idx, x.shape)
    np.testing.assert_array_equal(gx, 0)


@pytest.mark.parametrize(
    ("in_size", "k", "s", "p", "expected"),
    [
        (5, 2, 2, 0, 3),
        (4, 2, 2, 0, 2),
        (5, 2, 2, 1, 3),
        (6, 3, 2, 1, 4),
        (2, 3, 2, 1, 2),
        (1, 2, 2, 0, 1),
    ],
)
def test_pool_ceil_mode_output_size(in_size, k, s, p, expected):
    x = np.zeros((1, 1, in_size, in_size))
    assert _core.max_pool2d_forward(x, k, s, p, ceil_mode=True)[0].shape[2] == expected
    assert _core.avg_pool2d_forward(x, k, s, p, ceil_mode=True).shape[2] == expected


def test_pool_stride_defaults_to_kernel_size(rng):
    x = rng.standard_normal((2, 2, 9, 7))
    assert _core.max_pool2d_forward(x, (3, 2))[0].shape == (2, 2, 3, 3)
    assert _core.avg_pool2d_forward(x, 3).shape == (2, 2, 3, 2)
    gx = _core.avg_pool2d_backward(np.ones((2, 2, 3, 2)), x.shape, 3)
    assert gx.shape == x.shape


def test_max_pool2d_gradcheck_float64(rng):
    x = rng.standard_normal((2, 2, 6, 5))
    args = (3, (1, 2), 1, (1, 2), False)  # overlapping windows, padding, dilation
    y, _ = _core.max_pool2d_forward(x, *args)
    gy = rng.standard_normal(y.shape)

    def f():
        return float((_core.max_pool2d_forward(x, *args)[0] * gy).sum())

    idx = _core.max_pool2d_forward(x, *args)[1]
    check_grad(f, x, _core.max_pool2d_backward(gy, idx, x.shape))


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d_gradcheck_float64(rng, count_include_pad):
    x = rng.standard_normal((2, 2, 6, 5))
    args = (3, 2, 1, True, count_include_pad)
    gy = rng.standard_normal(_core.avg_pool2d_forward(x, *args).shape)

    def f():
        return float((_core.avg_pool2d_forward(x, *args) * gy).sum())

    check_grad(f, x, _core.avg_pool2d_backward(gy, x.shape, *args))


def test_pool_same_result_for_any_thread_count(rng):
    x = rng.standard_normal((8, 16, 20, 20)).astype(np.float32)
    before = dlx.get_num_threads()
    try:
        dlx.set_num_threads(1)
        y1, i1 = _core.max_pool2d_forward(x, 3, 2, 1)
        a1 = _core.avg_pool2d_forward(x, 3, 2, 1)
        dlx.set_num_threads(2)
        y2, i2 = _core.max_pool2d_forward(x, 3, 2, 1)
        a2 = _core.avg_pool2d_forward(x, 3, 2, 1)
    finally:
        dlx.set_num_threads(before)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_array_equal(a1, a2)


@pytest.mark.parametrize(
    ("k", "s", "p", "d", "ceil"),
    [
        (2, None, 0, 1, False),
        (3, 2, 1, 1, True),
        ((3, 2), (1, 2), (1, 1), (2, 1), True),
        (3, 1, 1, 1, False),
    ],
)
def test_pool_matches_torch(rng, k, s, p, d, ceil):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    x = rng.standard_normal((2, 3, 9, 8))
    tx = torch.from_numpy(x).requires_grad_()
    ty, ti = F.max_pool2d(tx, k, s, p, d, ceil, return_indices=True)
    y, idx = _core.max_pool2d_forward(x, k, s, p, d, ceil)
    np.testing.assert_array_equal(y, ty.detach().numpy())
    np.testing.assert_array_equal(idx, ti.numpy())
    gy = rng.standard_normal(y.shape)
    ty.backward(torch.from_numpy(gy))
    assert_close(_core.max_pool2d_backward(gy, idx, x.shape), tx.grad.numpy())
    for cip in (True, False):
        tx = torch.from_numpy(x).requires_grad_()
        ta = F.avg_pool2d(tx, k, s, p, ceil, cip)
        a = _core.avg_pool2d_forward(x, k, s, p, ceil, cip)
        assert_close(a, ta.detach().numpy())
        ga = rng.standard_normal(a.shape)
        ta.backward(torch.from_numpy(ga))
        assert_close(_core.avg_pool2d_backward(ga, x.shape, k, s, p, ceil, cip), tx.grad.numpy())


def test_max_pool2d_errors():
    x = np.zeros((1, 1, 4, 4), np.float32)
    fn = _core.max_pool2d_forward
    with pytest.raises(TypeError, match=r"max_pool2d_forward: `input` must be a numpy.ndarray"):
        fn([[1.0]], 2)
    with pytest.raises(TypeError, match=r"`input` must be float32 or float64, got int32"):
        fn(np.zeros((1, 1, 4, 4), np.int32), 2)
    with pytest.raises(ValueError, match=r"`input` must be 4-D, got ndim=3"):
        fn(np.zeros((1, 4, 4)), 2)
    with pytest.raises(ValueError, match=r"`input` must be C-contiguous"):
        fn(np.zeros((1, 1, 4, 8))[..., ::2], 2)
    with pytest.raises(ValueError, match=r"`kernel_size` must be positive, got \(0, 2\)"):
        fn(x, (0, 2))
    with pytest.raises(ValueError, match=r"`stride` must be positive, got \(-1, -1\)"):
        fn(x, 2, -1)
    with pytest.raises(ValueError, match=r"`padding` must be non-negative"):
        fn(x, 2, 1, -1)
    with pytest.raises(ValueError, match=r"`dilation` must be positive, got \(0, 0\)"):
        fn(x, 2, 1, 0, 0)
    with pytest.raises(ValueError, match=r"`padding` must be at most half of `kernel_size`"):
        fn(x, 2, 1, 2)
    with pytest.raises(ValueError, match=r"`kernel_size` must be an int or a pair of ints"):
        fn(x, (2, 2, 2))
    with pytest.raises(TypeError, match=r"`stride` must be an int or a pair of ints, got str"):
        fn(x, 2, "2")
    with pytest.raises(ValueError, match=r"`kernel_size` must be at most 2147483647"):
        fn(x, 2**40)
    with pytest.raises(ValueError, match=r"output size is too small"):
        fn(x, 5)
    with pytest.raises(ValueError, match=r"input height and width must be positive"):
        fn(np.zeros((1, 1, 0, 4)), 1)


def test_max_pool2d_backward_errors():
    gy = np.zeros((1, 2, 2, 2))
    idx = np.zeros((1, 2, 2, 2), np.int64)
    fn = _core.max_pool2d_backward
    with pytest.raises(TypeError, match=r"`indices` must have dtype int64, got int32"):
        fn(gy, idx.astype(np.int32), (1, 2, 4, 4))
    with pytest.raises(ValueError, match=r"`indices` must have shape \(1, 2, 2, 2\)"):
        fn(gy, idx[:, :1].copy(), (1, 2, 4, 4))
    with pytest.raises(ValueError, match=r"`grad_output` has \(N, C\) = \(1, 2\) but"):
        fn(gy, idx, (1, 3, 4, 4))
    with pytest.raises(ValueError, match=r"`input_shape` must be a tuple of 4 ints"):
        fn(gy, idx, (1, 2, 4))
    with pytest.raises(TypeError, match=r"`input_shape` must be a tuple of 4 ints"):
        fn(gy, idx, (1, 2, 4, 4.0))
    with pytest.raises(ValueError, match=r"`input_shape` must be non-negative"):
        fn(gy, idx, (1, 2, -4, 4))
    bad = idx.copy()
    bad[0, 1, 1, 1] = 16
    bad[0, 0, 0, 0] = -2
    with pytest.raises(ValueError, match=r"`indices` must lie in \[0, H\*W\) = \[0, 16\).*got 2"):
        fn(gy, bad, (1, 2, 4, 4))


def test_avg_pool2d_errors():
    x = np.zeros((1, 1, 4, 4))
    with pytest.raises(ValueError, match=r"avg_pool2d_forward: `padding` must be at most half"):
        _core.avg_pool2d_forward(x, 3, 1, 2)
    with pytest.raises(ValueError, match=r"avg_pool2d_forward: `input` must be 4-D"):
        _core.avg_pool2d_forward(np.zeros((4, 4)), 2)
    with pytest.raises(ValueError, match=r"`grad_output` must have shape \(1, 1, 2, 2\)"):
        _core.avg_pool2d_backward(np.zeros((1, 1, 3, 3)), (1, 1, 4, 4), 2)
    with pytest.raises(TypeError, match=r"avg_pool2d_backward: `grad_output` must be float32"):
        _core.avg_pool2d_backward(np.zeros((1, 1, 2, 2), np.int64), (1, 1, 4, 4), 2)
    with pytest.raises(ValueError, match=r"avg_pool2d_backward: `stride` must be positive"):
        _core.avg_pool2d_backward(np.zeros((1, 1, 2, 2)), (1, 1, 4, 4), 2, 0)


@pytest.mark.parametrize("bad", [(2.5, 2), True, (2, True), "2", 2.0])
def test_max_pool2d_kernel_size_type_errors(bad):
    x = np.zeros((1, 1, 4, 4), np.float32)
    with pytest.raises(TypeError, match=r"`kernel_size` must be an int or a pair of ints"):
        _core.max_pool2d_forward(x, bad)


@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (1, 1, 2, 2), (3, 2, 8, 6), (0, 2, 4, 4)])
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_max_pool2d_2x2_fast_path_matches_reference(rng, dtype, shape, ceil_mode):
    # 2x2 / stride 2 / no padding takes a dedicated loop (csrc/pool.cpp) unless ceil_mode
    # adds a partial window; ties (rounded values), -inf and NaN follow the general rules.
    x = np.round(rng.standard_normal(shape)).astype(dtype)
    if x.size:
        x.flat[0] = -np.inf
        x.flat[x.size // 2] = np.nan
    y, idx = _core.max_pool2d_forward(x, 2, 2, 0, 1, ceil_mode)
    ry, ridx = reference.max_pool2d_forward(x, 2, 2, 0, 1, ceil_mode)
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(idx, ridx)
