from __future__ import annotations

import math

import numpy as np
import pytest

import dlx
from dlx.nn import init


def big(dtype=np.float32, shape=(600, 500)):
    return dlx.nn.Parameter(np.empty(shape, dtype=dtype))


def test_init_fan_in_and_fan_out():
    assert init._calculate_fan_in_and_fan_out(dlx.zeros(30, 20)) == (20, 30)
    assert init._calculate_fan_in_and_fan_out(dlx.zeros(64, 3, 5, 5)) == (75, 1600)
    assert init._calculate_fan_in_and_fan_out(np.zeros((8, 4, 3))) == (12, 24)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(dlx.zeros(5))


@pytest.mark.parametrize(
    ("nonlinearity", "param", "gain"),
    [
        ("linear", None, 1.0),
        ("conv2d", None, 1.0),
        ("sigmoid", None, 1.0),
        ("tanh", None, 5 / 3),
        ("relu", None, math.sqrt(2)),
        ("selu", None, 0.75),
        ("leaky_relu", None, math.sqrt(2 / (1 + 0.01**2))),
        ("leaky_relu", 0.2, math.sqrt(2 / 1.04)),
        ("leaky_relu", 0, math.sqrt(2)),
    ],
)
def test_init_calculate_gain(nonlinearity, param, gain):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(gain)


def test_init_calculate_gain_matches_torch():
    torch = pytest.importorskip("torch")
    for name in ("linear", "tanh", "relu", "leaky_relu", "selu", "sigmoid", "conv2d"):
        assert init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", math.sqrt(5))
    )


def test_init_errors():
    with pytest.raises(ValueError, match="`nonlinearity`"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="`param`"):
        init.calculate_gain("leaky_relu", "x")
    with pytest.raises(ValueError, match="`mode`"):
        init.kaiming_uniform_(dlx.zeros(3, 3), mode="fan_avg")
    with pytest.raises(ValueError, match="`a` must not exceed `b`"):
        init.uniform_(dlx.zeros(3), 1.0, 0.0)
    with pytest.raises(ValueError, match="`std`"):
        init.normal_(dlx.zeros(3), std=-1.0)
    with pytest.raises(TypeError, match="`tensor`"):
        init.zeros_([1.0, 2.0])
    with pytest.raises(TypeError, match="`generator`"):
        init.normal_(dlx.zeros(3), generator=42)


def test_init_constant_zeros_ones_in_place():
    p = big(shape=(3, 4))
    arr, v = p.numpy(), p._version
    assert init.constant_(p, 0.1) is p
    np.testing.assert_allclose(p.data, 0.1)
    init.zeros_(p)
    assert not p.numpy().any()
    init.ones_(p)
    assert (p.numpy() == 1).all()
    assert p.numpy() is arr
    assert p._version == v + 3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_init_uniform_and_normal_statistics(dtype):
    p = big(dtype)
    arr = p.numpy()
    init.uniform_(p, -2.0, 3.0)
    assert p.numpy() is arr
    assert p.dtype == dtype
    assert p.numpy().min() >= -2.0
    assert p.numpy().max() < 3.0
    np.testing.assert_allclose(p.data.mean(), 0.5, atol=0.02)
    np.testing.assert_allclose(p.data.std(), 5 / math.sqrt(12), rtol=0.02)
    init.normal_(p, mean=1.0, std=0.5)
    np.testing.assert_allclose(p.data.mean(), 1.0, atol=0.01)
    np.testing.assert_allclose(p.data.std(), 0.5, rtol=0.02)


def test_init_xavier():
    p = big()
    fan_in, fan_out = 500, 600
    init.xavier_uniform_(p, gain=2.0)
    bound = 2.0 * math.sqrt(6 / (fan_in + fan_out))
    assert np.abs(p.data).max() <= bound
    np.testing.assert_allclose(p.data.std(), bound / math.sqrt(3), rtol=0.02)
    init.xavier_normal_(p)
    np.testing.assert_allclose(p.data.std(), math.sqrt(2 / (fan_in + fan_out)), rtol=0.02)


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize(("nonlinearity", "a"), [("relu", 0), ("leaky_relu", 0.2), ("tanh", 0)])
def test_init_kaiming_statistics(mode, nonlinearity, a):
    p = dlx.nn.Parameter(np.empty((64, 32, 3, 3), np.float32))
    fan = 32 * 9 if mode == "fan_in" else 64 * 9
    std = init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    init.kaiming_normal_(p, a=a, mode=mode, nonlinearity=nonlinearity)
    np.testing.assert_allclose(p.data.std(), std, rtol=0.03)
    init.kaiming_uniform_(p, a=a, mode=mode, nonlinearity=nonlinearity)
    assert np.abs(p.data).max() <= math.sqrt(3) * std
    np.testing.assert_allclose(p.data.std(), std, rtol=0.03)


def test_init_lecun():
    p = big()
    init.lecun_normal_(p)
    np.testing.assert_allclose(p.data.std(), math.sqrt(1 / 500), rtol=0.02)
    init.lecun_uniform_(p)
    assert np.abs(p.data).max() <= math.sqrt(3 / 500)
    np.testing.assert_allclose(p.data.std(), math.sqrt(1 / 500), rtol=0.02)


def test_init_generator_and_manual_seed_reproducible():
    a, b = big(shape=(20, 10)), big(shape=(20, 10))
    init.kaiming_uniform_(a, generator=np.random.default_rng(7))
    init.kaiming_uniform_(b, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(a.data, b.data)
    dlx.manual_seed(3)
    init.xavier_normal_(a)
    dlx.manual_seed(3)
    init.xavier_normal_(b)
    np.testing.assert_array_equal(a.data, b.data)
    dlx.manual_seed(3)
    l1 = dlx.nn.Linear(4, 4)
    dlx.manual_seed(3)
    l2 = dlx.nn.Linear(4, 4)
    np.testing.assert_array_equal(l1.weight.data, l2.weight.data)


def test_init_non_contiguous_and_ndarray_targets():
    base = np.zeros((10, 8), np.float32)
    view = base[:, ::2]
    init.normal_(view, std=1.0)
    assert base[:, ::2].any()
    assert not base[:, 1::2].any()
    t = dlx.from_numpy(np.zeros((6, 4)).T)  # F-ordered
    init.uniform_(t, 1.0, 2.0)
    assert (t.data >= 1.0).all()


def test_init_zero_element_tensor_is_noop():
    p = dlx.nn.Parameter(np.empty((0, 3), np.float32))
    assert init.kaiming_uniform_(p) is p
    assert init.xavier_normal_(p) is p
