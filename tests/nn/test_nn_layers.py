"""Layers: gradchecks (float64, inputs and parameters), shapes, train/eval, config, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

import dlx
from dlx import nn

# Kernels with per-level code: CI runs this file again at every ISA level (.ci/run).
pytestmark = pytest.mark.isa_levels


def _x(rng, *shape, grad=True):
    return dlx.tensor(rng.standard_normal(shape), requires_grad=grad)


def _call_with(layer, params, values, inp):
    """Run ``layer`` with its parameters replaced by the tensors ``values``."""
    owners = []
    for m in layer.modules():
        for name, p in list(m._parameters.items()):
            if p is not None and any(p is q for q in params):
                owners.append((m, name, p))
    try:
        for m, name, p in owners:
            m._parameters[name] = values[[id(q) for q in params].index(id(p))]
        return layer(inp)
    finally:
        for m, name, p in owners:
            m._parameters[name] = p


LAYERS = [
    (lambda: nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2), (2, 4, 5, 5)),
    (lambda: nn.Conv2d(2, 3, (2, 3), padding="same", dilation=(1, 2)), (1, 2, 4, 5)),
    (lambda: nn.MaxPool2d(3, 2, 1), (2, 2, 5, 5)),
    (lambda: nn.AvgPool2d(2, ceil_mode=True, count_include_pad=False), (1, 2, 5, 5)),
    (lambda: nn.BatchNorm1d(3), (5, 3)),
    (lambda: nn.BatchNorm1d(3, affine=False), (4, 3, 2)),
    (lambda: nn.BatchNorm2d(2), (3, 2, 2, 3)),
    (lambda: nn.PReLU(), (2, 3, 4)),
    (lambda: nn.PReLU(3, init=0.1), (2, 3, 4)),
    (lambda: nn.Maxout(2), (2, 6, 3)),
    (lambda: nn.ReLU(), (2, 5)),
    (lambda: nn.LeakyReLU(0.1), (2, 5)),
    (lambda: nn.AbsReLU(), (2, 5)),
    (lambda: nn.ELU(0.5), (2, 5)),
    (lambda: nn.GELU(), (2, 5)),
    (lambda: nn.SiLU(), (2, 5)),
    (lambda: nn.Sigmoid(), (2, 5)),
    (lambda: nn.Tanh(), (2, 5)),
    (lambda: nn.Softplus(2.0), (2, 5)),
    (lambda: nn.Hardtanh(-0.5, 0.5), (2, 5)),
    (lambda: nn.Softmax(1), (2, 5)),
    (lambda: nn.LogSoftmax(-1), (2, 5)),
    (lambda: nn.Linear(5, 3), (2, 5)),
    (lambda: nn.Residual(nn.Sequential(nn.Linear(4, 4), nn.Tanh())), (3, 4)),
    (lambda: nn.Residual(nn.Linear(4, 2), shortcut=nn.Linear(4, 2, bias=False)), (3, 4)),
]


@pytest.mark.parametrize(("make", "shape"), LAYERS)
def test_layer_gradcheck_input_and_parameters(rng, make, shape):
    dlx.manual_seed(0)
    layer = make().double()
    x = _x(rng, *shape)
    x.data[np.abs(x.data) < 0.05] += 0.2
    x.data[np.abs(np.abs(x.data) - 0.5) < 0.05] += 0.12  # Hardtanh edges
    params = list(layer.parameters())
    values = [dlx.tensor(p.numpy().copy(), requires_grad=True) for p in params]
    assert dlx.gradcheck(
        lambda inp, *vs: _call_with(layer, params, vs, inp), [x, *values], atol=1e-6, rtol=1e-4
    )


@pytest.mark.parametrize(("make", "shape"), LAYERS)
def test_layer_output_shape_matches_forward_and_config_roundtrips(rng, make, shape):
    layer = make()
    x = dlx.tensor(rng.standard_normal(shape).astype(np.float32))
    y = layer(x)
    fn = getattr(layer, "output_shape", None)
    if fn is not None:
        assert tuple(fn(shape)) == y.shape
    config = json.loads(json.dumps(layer.get_config()))
    if not isinstance(layer, nn.Residual):
        clone = type(layer)(**config)
        assert repr(clone) == repr(layer)
    else:
        clone = nn.Residual(**dict(layer.named_children()))
    clone.load_state_dict(layer.state_dict())
    clone.train(layer.training)
    np.testing.assert_allclose(clone(x).numpy(), layer(x).numpy(), rtol=1e-6)


def test_layer_reprs_follow_pytorch():
    assert repr(nn.Conv2d(3, 64, 3, padding=1)) == (
        "Conv2d(3, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    )
    assert repr(nn.Conv2d(4, 8, 1, groups=2, bias=False)) == (
        "Conv2d(4, 8, kernel_size=(1, 1), stride=(1, 1), groups=2, bias=False)"
    )
    assert repr(nn.MaxPool2d(2)) == (
        "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    )
    assert repr(nn.AvgPool2d(3, 1, 1)) == "AvgPool2d(kernel_size=3, stride=1, padding=1)"
    assert repr(nn.BatchNorm2d(16)) == (
        "BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"
    )
    assert repr(nn.Dropout(0.25)) == "Dropout(p=0.25, inplace=False)"
    assert repr(nn.ReLU()) == "ReLU()"
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.PReLU()) == "PReLU(num_parameters=1)"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    assert "(block): Linear" in repr(nn.Residual(nn.Linear(2, 2)))


def test_conv2d_default_init_bounds():
    dlx.manual_seed(0)
    m = nn.Conv2d(8, 16, 3)
    bound = 1 / np.sqrt(8 * 9)
    assert m.weight.shape == (16, 8, 3, 3)
    assert m.weight.dtype == np.float32
    assert np.abs(m.weight.data).max() <= bound
    assert np.abs(m.weight.data).max() > 0.9 * bound
    assert np.abs(m.bias.data).max() <= bound


def test_dropout_train_and_eval():
    m = nn.Dropout(0.5)
    x = dlx.ones(200, 50)
    dlx.manual_seed(1)
    y = m(x).numpy()
    assert set(np.unique(y)) == {0.0, 2.0}
    assert 0.4 < (y == 0).mean() < 0.6
    m.eval()
    np.testing.assert_array_equal(m(x).numpy(), x.numpy())


def test_batchnorm_running_stats_updated_in_train_and_used_in_eval(rng):
    m = nn.BatchNorm2d(3, momentum=0.2)
    x = dlx.tensor((rng.standard_normal((8, 3, 4, 4)) * 3 + 2).astype(np.float32))
    m(x)
    mean = x.numpy().mean(axis=(0, 2, 3))
    var = x.numpy().var(axis=(0, 2, 3), ddof=1)
    np.testing.assert_allclose(m.running_mean.numpy(), 0.2 * mean, rtol=1e-5)
    np.testing.assert_allclose(m.running_var.numpy(), 0.8 + 0.2 * var, rtol=1e-5)
    assert int(m.num_batches_tracked.item()) == 1
    m.eval()
    y = m(x).numpy()
    rm, rv = m.running_mean.numpy(), m.running_var.numpy()
    expect = (x.numpy() - rm[:, None, None]) / np.sqrt(rv[:, None, None] + 1e-5)
    np.testing.assert_allclose(y, expect, rtol=1e-4, atol=1e-5)
    assert int(m.num_batches_tracked.item()) == 1  # eval does not count
    assert list(m.state_dict()) == [
        "weight",
        "bias",
        "running_mean",
        "running_var",
        "num_batches_tracked",
    ]


def test_batchnorm_momentum_none_is_cumulative_average(rng):
    m = nn.BatchNorm1d(2, momentum=None)
    xs = [rng.standard_normal((5, 2)).astype(np.float32) for _ in range(3)]
    for x in xs:
        m(dlx.tensor(x))
    np.testing.assert_allclose(
        m.running_mean.numpy(), np.mean([x.mean(axis=0) for x in xs], axis=0), rtol=1e-5
    )


def test_batchnorm_without_running_stats_always_uses_batch_stats(rng):
    m = nn.BatchNorm1d(3, track_running_stats=False).eval()
    assert m.running_mean is None
    assert "running_mean" not in m.state_dict()
    x = rng.standard_normal((6, 3)).astype(np.float32) * 4 + 1
    y = m(dlx.tensor(x)).numpy()
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-5)


def test_layer_errors_name_layer_and_shapes(rng):
    x = dlx.zeros(2, 4, 8, 8)
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8, .*3 channels.*\(2, 4, 8, 8\)"):
        nn.Conv2d(3, 8, 3)(x)
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8.*expected 4-D input.*\(4, 8, 8\)"):
        nn.Conv2d(3, 8, 3)(dlx.zeros(4, 8, 8))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3.*3 channels.*\(2, 4, 8, 8\)"):
        nn.BatchNorm2d(3)(x)
    with pytest.raises(ValueError, match=r"BatchNorm1d\(4.*expected 2-D or 3-D input"):
        nn.BatchNorm1d(4)(x)
    with pytest.raises(ValueError, match=r"MaxPool2d\(kernel_size=2.*expected 4-D input"):
        nn.MaxPool2d(2)(dlx.zeros(4, 8))
    with pytest.raises(ValueError, match=r"Residual: the block's output of shape \(2, 3\)"):
        nn.Residual(nn.Linear(4, 3))(dlx.zeros(2, 4))
    with pytest.raises(ValueError, match="`in_channels` must be a positive multiple of groups=2"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="`padding_mode` must be 'zeros'"):
        nn.Conv2d(3, 4, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="`p` must be a probability"):
        nn.Dropout(-0.1)
    with pytest.raises(ValueError, match="`momentum` must be in"):
        nn.BatchNorm2d(3, momentum=2)


def test_residual_identity_shortcut_and_state_dict_keys():
    block = nn.Sequential(nn.Linear(3, 3), nn.ReLU())
    r = nn.Residual(block)
    x = dlx.tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3))
    np.testing.assert_allclose(r(x).numpy(), block(x).numpy() + x.numpy())
    assert list(r.state_dict()) == ["block.0.weight", "block.0.bias"]
    r2 = nn.Residual(nn.Linear(3, 2), nn.Linear(3, 2))
    assert list(r2.state_dict()) == [
        "block.weight",
        "block.bias",
        "shortcut.weight",
        "shortcut.bias",
    ]


def test_containers_config_is_empty():
    assert nn.Sequential(nn.ReLU()).get_config() == {}
    assert nn.ModuleList([nn.ReLU()]).get_config() == {}
    assert nn.Flatten(0, 2).get_config() == {"start_dim": 0, "end_dim": 2}
    assert nn.Linear(2, 3, bias=False).get_config() == {
        "in_features": 2,
        "out_features": 3,
        "bias": False,
        "dtype": "float32",
    }

    class Custom(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(NotImplementedError, match="Custom does not define get_config"):
        Custom().get_config()


def test_layers_accept_empty_batch():
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.AvgPool2d(2), nn.Dropout(), nn.Flatten(), nn.Linear(16, 6), nn.Maxout(2), nn.PReLU(),
        nn.Softmax(1),
    )  # fmt: skip
    x = dlx.zeros(0, 3, 8, 8, requires_grad=True)
    y = model(x)
    assert y.shape == (0, 3)
    y.sum().backward()
    assert x.grad.shape == (0, 3, 8, 8)
    assert model.eval()(x).shape == (0, 3)


def test_dropout_p_one_drops_everything():
    np.testing.assert_array_equal(nn.Dropout(1.0)(dlx.ones(2, 3)).numpy(), np.zeros((2, 3)))
