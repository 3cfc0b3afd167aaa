from __future__ import annotations

import numpy as np
import pytest
from dlx_testing import check_grad

import dlx
from dlx import _core, reference

SEEDS = [0, 1, 12345, 2**63, 2**64 - 1]


@pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 5, 7), (1000, 37)])
@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 1.0])
@pytest.mark.parametrize("seed", SEEDS)
def test_dropout_mask_matches_reference(shape, p, seed):
    mask = _core.dropout_mask(shape, p, seed)
    assert mask.dtype == np.uint8
    assert mask.shape == shape
    np.testing.assert_array_equal(mask, reference.dropout_mask(shape, p, seed))


@pytest.mark.parametrize("shape", [(5,), (4, 3, 6, 5), (64, 1024)])
@pytest.mark.parametrize("p", [0.0, 0.2, 0.5, 1.0])
def test_dropout_forward_backward_match_reference(rng, dtype, shape, p):
    x = rng.standard_normal(shape).astype(dtype)
    y, mask = _core.dropout_forward(x, p, 7)
    ry, rmask = reference.dropout_forward(x, p, 7)
    assert y.dtype == dtype
    np.testing.assert_array_equal(mask, rmask)
    np.testing.assert_array_equal(y, ry)  # same products in the same dtype: bit-identical
    np.testing.assert_array_equal(mask, _core.dropout_mask(shape, p, 7))
    gy = rng.standard_normal(shape).astype(dtype)
    gx = _core.dropout_backward(gy, mask, p)
    np.testing.assert_array_equal(gx, reference.dropout_backward(gy, mask, p))


def test_dropout_output_is_input_times_mask_over_keep_prob(rng, dtype):
    x = rng.standard_normal(1000).astype(dtype)
    y, mask = _core.dropout_forward(x, 0.25, 3)
    np.testing.assert_allclose(y, x * mask / dtype(0.75), rtol=1e-6)
    assert set(np.unique(mask)) <= {0, 1}


def test_dropout_mask_same_for_any_thread_count():
    before = dlx.get_num_threads()
    masks = []
    try:
        for n in (1, 2):
            dlx.set_num_threads(n)
            masks.append(_core.dropout_mask((300_001,), 0.5, 99))
            masks.append(_core.dropout_forward(np.ones(300_001, np.float32), 0.5, 99)[1])
    finally:
        dlx.set_num_threads(before)
    for m in masks[1:]:
        np.testing.assert_array_equal(m, masks[0])


def test_dropout_mask_depends_only_on_seed_and_index():
    # Any chunking of the index range sees the same decisions: a prefix is a prefix.
    long = _core.dropout_mask((100_000,), 0.5, 5)
    np.testing.assert_array_equal(_core.dropout_mask((1000,), 0.5, 5), long[:1000])
    np.testing.assert_array_equal(_core.dropout_mask((100, 1000), 0.5, 5).ravel(), long)
    other = _core.dropout_mask((100_000,), 0.5, 6)
    assert 0.48 < np.mean(long == other) < 0.52  # a different seed is an independent mask


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_keep_fraction_within_bounds(p):
    n = 1_000_000
    for seed in (0, 2**64 - 1):
        kept = _core.dropout_mask((n,), p, seed).mean()
        sigma = np.sqrt(p * (1 - p) / n)
        assert abs(kept - (1 - p)) < 5 * sigma


def test_dropout_extreme_p(dtype):
    x = np.array([1.0, -2.0, np.inf, 3.0], dtype)
    y, mask = _core.dropout_forward(x, 0.0, 1)
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(mask, 1)
    y, mask = _core.dropout_forward(x, 1.0, 1)
    np.testing.assert_array_equal(mask, 0)
    np.testing.assert_array_equal(y[[0, 1, 3]], 0)
    assert np.isnan(y[2])  # inf * 0, as in PyTorch
    np.testing.assert_array_equal(_core.dropout_backward(np.ones(4, dtype), mask, 1.0), 0)


def test_dropout_gradcheck_float64(rng):
    x = rng.standard_normal((4, 5))
    gy = rng.standard_normal((4, 5))

    def f():
        return float((_core.dropout_forward(x, 0.4, 11)[0] * gy).sum())

    _, mask = _core.dropout_forward(x, 0.4, 11)
    check_grad(f, x, _core.dropout_backward(gy, mask, 0.4))


def test_dropout_accepts_numpy_integer_seed():
    np.testing.assert_array_equal(
        _core.dropout_mask((50,), 0.5, np.uint64(2**64 - 1)),
        _core.dropout_mask((50,), 0.5, 2**64 - 1),
    )


def test_dropout_errors():
    x = np.ones(4)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"dropout_forward: `p` must be in \[0, 1\], got"):
            _core.dropout_forward(x, bad, 0)
        with pytest.raises(ValueError, match=r"dropout_mask: `p` must be in \[0, 1\]"):
            _core.dropout_mask((4,), bad, 0)
        with pytest.raises(ValueError, match=r"dropout_backward: `p` must be in \[0, 1\]"):
            _core.dropout_backward(x, np.ones(4, np.uint8), bad)
    for bad in (-1, 2**64):
        with pytest.raises(ValueError, match=r"`seed` must be an int in \[0, 2\*\*64\), got"):
            _core.dropout_forward(x, 0.5, bad)
    for bad in (1.5, True, "1", None):
        with pytest.raises(TypeError, match=r"`seed` must be an int in \[0, 2\*\*64\)"):
            _core.dropout_mask((4,), 0.5, bad)
    with pytest.raises(TypeError, match=r"dropout_forward: `input` must be float32 or float64"):
        _core.dropout_forward(np.ones(4, np.int32), 0.5, 0)
    with pytest.raises(TypeError, match=r"`mask` must have dtype uint8, got bool"):
        _core.dropout_backward(x, np.ones(4, bool), 0.5)
    with pytest.raises(ValueError, match=r"`mask` must have shape \(4,\), got \(5,\)"):
        _core.dropout_backward(x, np.ones(5, np.uint8), 0.5)
    with pytest.raises(ValueError, match=r"`mask` must be C-contiguous"):
        _core.dropout_backward(x, np.ones(8, np.uint8)[::2], 0.5)
    with pytest.raises(ValueError, match=r"`shape` must be non-negative"):
        _core.dropout_mask((3, -1), 0.5, 0)
    with pytest.raises(TypeError, match=r"`shape` must be a tuple of ints, got int"):
        _core.dropout_mask(4, 0.5, 0)
    with pytest.raises(TypeError, match=r"`shape` must be a tuple of ints, got an element"):
        _core.dropout_mask((2.0, 2), 0.5, 0)
