"""dlx.nn.functional over the kernels: gradchecks (float64), shapes, validation messages."""

from __future__ import annotations

import numpy as np
import pytest

import dlx
from dlx.nn import functional as F


def _t(rng, *shape, grad=True, dtype=np.float64):
    return dlx.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=grad)


def _check(fn, *inputs):
    assert dlx.gradcheck(fn, inputs, atol=1e-6, rtol=1e-4)


# -- gradchecks ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("relu", {}),
        ("leaky_relu", {"negative_slope": 0.2}),
        ("abs_relu", {}),
        ("elu", {"alpha": 0.7}),
        ("gelu", {}),
        ("gelu", {"approximate": "tanh"}),
        ("silu", {}),
        ("sigmoid", {}),
        ("tanh", {}),
        ("softplus", {"beta": 2.0, "threshold": 3.0}),
        ("hardtanh", {"min_val": -0.5, "max_val": 0.8}),
    ],
)
def test_activation_gradcheck(rng, name, kwargs):
    x = _t(rng, 2, 3, 4)
    x.data[np.abs(x.data) < 0.05] += 0.2  # keep away from kinks
    for edge in (-0.5, 0.8, 1.5):  # and from hardtanh's / softplus's edges
        x.data[np.abs(x.data - edge) < 0.05] += 0.1
    _check(lambda a: getattr(F, name)(a, **kwargs), x)


@pytest.mark.parametrize("channels", [1, 3])
def test_prelu_gradcheck_input_and_slope(rng, channels):
    x = _t(rng, 2, 3, 2, 2)
    x.data[np.abs(x.data) < 0.05] += 0.2
    w = dlx.tensor(rng.uniform(0.1, 0.5, channels), requires_grad=True)
    _check(F.prelu, x, w)


def test_maxout_gradcheck_and_shape(rng):
    x = _t(rng, 2, 6, 3)
    y = F.maxout(x, 3)
    assert y.shape == (2, 2, 3)
    np.testing.assert_allclose(y.numpy(), x.data.reshape(2, 2, 3, 3).amax(axis=2))
    _check(lambda a: F.maxout(a, 3), x)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_family_gradcheck(rng, dim):
    x = _t(rng, 3, 4)
    _check(lambda a: F.softmax(a, dim), x)
    _check(lambda a: F.log_softmax(a, dim), x)
    np.testing.assert_allclose(F.softmax(x, dim).numpy().sum(axis=dim), 1.0)


@pytest.mark.parametrize(
    ("stride", "padding", "dilation", "groups"),
    [(1, 0, 1, 1), (2, 1, 1, 1), ((1, 2), (1, 0), 1, 2), (1, 1, 2, 1), (1, "same", 1, 1)],
)
def test_conv2d_gradcheck(rng, stride, padding, dilation, groups):
    x = _t(rng, 2, 4, 5, 6)
    w = _t(rng, 4, 4 // groups, 3, 2)
    b = _t(rng, 4)
    _check(lambda a, k, c: F.conv2d(a, k, c, stride, padding, dilation, groups), x, w, b)


def test_conv2d_same_padding_keeps_size_even_kernel(rng):
    x = _t(rng, 1, 2, 5, 6)
    w = _t(rng, 3, 2, 2, 4)
    assert F.conv2d(x, w, padding="same").shape == (1, 3, 5, 6)
    assert F.conv2d(x, w, padding="valid").shape == (1, 3, 4, 3)
    _check(lambda a, k: F.conv2d(a, k, padding="same"), x, w)


@pytest.mark.parametrize(
    ("k", "s", "p", "ceil"), [(2, None, 0, False), (3, 2, 1, True), ((2, 3), (1, 2), (1, 1), False)]
)
def test_pool_gradcheck(rng, k, s, p, ceil):
    x = _t(rng, 2, 2, 5, 6)
    _check(lambda a: F.max_pool2d(a, k, s, p, ceil_mode=ceil), x)
    _check(lambda a: F.avg_pool2d(a, k, s, p, ceil_mode=ceil), x)
    _check(lambda a: F.avg_pool2d(a, k, s, p, ceil_mode=ceil, count_include_pad=False), x)


def test_max_pool2d_return_indices(rng):
    x = _t(rng, 1, 1, 4, 4, grad=False)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    assert idx.dtype == np.int64
    assert idx.shape == y.shape
    np.testing.assert_array_equal(x.data.reshape(-1)[idx.data.reshape(-1)], y.data.reshape(-1))


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2, 3)])
def test_batch_norm_training_gradcheck(rng, shape):
    x = _t(rng, *shape)
    w = dlx.tensor(rng.uniform(0.5, 1.5, 3), requires_grad=True)
    b = _t(rng, 3)
    _check(lambda a, g, c: F.batch_norm(a, None, None, g, c, training=True), x, w, b)


def test_batch_norm_eval_gradcheck_and_running_update(rng):
    x = _t(rng, 6, 3, 2)
    rm, rv = np.zeros(3), np.ones(3)
    w, b = _t(rng, 3), _t(rng, 3)
    F.batch_norm(x, rm, rv, training=True, momentum=0.5)
    np.testing.assert_allclose(rm, 0.5 * x.data.mean(axis=(0, 2)))
    np.testing.assert_allclose(rv, 0.5 + 0.5 * x.numpy().var(axis=(0, 2), ddof=1))
    _check(lambda a, g, c: F.batch_norm(a, rm, rv, g, c, training=False), x, w, b)
    y = F.batch_norm(x, rm, rv, training=False).numpy()
    expect = (x.data - rm[:, None]) / np.sqrt(rv[:, None] + 1e-5)
    np.testing.assert_allclose(y, expect, rtol=1e-10)


def test_dropout_gradcheck_seeded_and_identity(rng):
    x = _t(rng, 4, 5)
    dlx.manual_seed(3)
    y1 = F.dropout(x, 0.4).numpy()
    dlx.manual_seed(3)
    y2 = F.dropout(x, 0.4).numpy()
    np.testing.assert_array_equal(y1, y2)
    kept = y1 != 0
    np.testing.assert_allclose(y1[kept], x.data[kept] / 0.6)
    assert F.dropout(x, 0.4, training=False) is x

    def fn(a):
        dlx.manual_seed(7)  # same mask at every evaluation
        return F.dropout(a, 0.3)

    _check(fn, x)


def test_functional_float32_matches_float64(rng):
    x64 = _t(rng, 2, 3, 6, 6, grad=False)
    w64 = _t(rng, 4, 3, 3, 3, grad=False)
    x32 = dlx.tensor(x64.numpy().astype(np.float32))
    w32 = dlx.tensor(w64.numpy().astype(np.float32))
    for fn in (
        lambda a, k: F.max_pool2d(F.relu(F.conv2d(a, k, padding=1)), 2),
        lambda a, k: F.log_softmax(F.avg_pool2d(F.conv2d(a, k, stride=2), 2).flatten(1), 1),
    ):
        y32, y64 = fn(x32, w32), fn(x64, w64)
        assert y32.dtype == np.float32
        np.testing.assert_allclose(y32.numpy(), y64.numpy(), rtol=1e-4, atol=1e-5)


# -- errors ----------------------------------------------------------------------------------
def test_conv2d_errors_name_argument_and_shapes(rng):
    x = _t(rng, 1, 4, 5, 5, grad=False)
    w = _t(rng, 2, 3, 3, 3, grad=False)
    with pytest.raises(
        ValueError,
        match=r"conv2d: expected `input` with 3 channels .*\(2, 3, 3, 3\).*\(1, 4, 5, 5\)",
    ):
        F.conv2d(x, w)
    with pytest.raises(ValueError, match="`weight` must be 4-D"):
        F.conv2d(x, w.data[0])
    with pytest.raises(ValueError, match="`stride` must be positive"):
        F.conv2d(x, _t(rng, 2, 4, 3, 3, grad=False), stride=0)
    with pytest.raises(ValueError, match=r"`bias` must have shape \(2,\)"):
        F.conv2d(x, _t(rng, 2, 4, 3, 3, grad=False), np.zeros(3))
    with pytest.raises(ValueError, match="smaller than the"):
        F.conv2d(x, _t(rng, 2, 4, 7, 7, grad=False))
    with pytest.raises(ValueError, match="'same' needs stride 1"):
        F.conv2d(x, _t(rng, 2, 4, 3, 3, grad=False), stride=2, padding="same")
    with pytest.raises(TypeError, match="`weight` has dtype float32"):
        F.conv2d(x, _t(rng, 2, 4, 3, 3, grad=False, dtype=np.float32))


def test_other_errors_name_argument(rng):
    x = _t(rng, 2, 3, 4, 4, grad=False)
    with pytest.raises(ValueError, match=r"max_pool2d: `input` must be 4-D"):
        F.max_pool2d(x.data[0], 2)
    with pytest.raises(ValueError, match="`padding` must be at most half"):
        F.avg_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match=r"prelu: `weight` must have shape \(1,\) or \(3,\)"):
        F.prelu(x, np.ones(2))
    with pytest.raises(ValueError, match=r"maxout: .*divisible by pieces=2"):
        F.maxout(x, 2)
    with pytest.raises(ValueError, match="`dim` must be in"):
        F.softmax(x, 4)
    with pytest.raises(ValueError, match=r"dropout: `p` must be a probability"):
        F.dropout(x, 1.5)
    with pytest.raises(ValueError, match="`approximate` must be"):
        F.gelu(x, "fast")
    with pytest.raises(ValueError, match=r"batch_norm: `running_mean` must have shape \(3,\)"):
        F.batch_norm(x, np.zeros(2), np.ones(2))
    with pytest.raises(ValueError, match="required when training=False"):
        F.batch_norm(x, None, None)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(x[:1, :, :1, :1], None, None, training=True)
