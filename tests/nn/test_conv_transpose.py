"""conv1d / Conv1d and conv_transpose2d / ConvTranspose2d: torch oracle (outputs and
gradients), float64 gradcheck, argument errors, save/load and summary."""

from __future__ import annotations

import numpy as np
import pytest

import dlx
from dlx import nn
from dlx.nn import functional as F

# (n, c_in, h, w, c_out, kernel, stride, padding, output_padding, groups, dilation)
T_CASES = [
    (2, 3, 5, 4, 4, 3, 1, 0, 0, 1, 1),
    (2, 4, 4, 5, 6, (3, 2), 2, 1, 1, 2, 1),
    (1, 2, 3, 3, 2, 4, 2, 1, 0, 1, 1),  # the usual x2 upsampling block
    (2, 4, 3, 4, 4, 3, (2, 3), (1, 0), (1, 2), 4, 1),  # depthwise
    (1, 3, 4, 4, 2, 3, 1, 1, 1, 1, 2),  # output_padding >= stride (below dilation)
    (2, 2, 5, 3, 3, (2, 3), 3, (0, 2), (2, 1), 1, (1, 2)),
    (3, 8, 6, 6, 8, 3, 2, 1, 1, 1, 1),
]
T_IDS = [f"case{i}" for i in range(len(T_CASES))]

# (n, c_in, length, c_out, kernel, stride, padding, dilation, groups)
C1_CASES = [
    (2, 3, 9, 4, 3, 1, 0, 1, 1),
    (2, 4, 10, 6, 2, 2, 1, 1, 2),
    (1, 2, 7, 2, 3, 1, "same", 2, 1),
    (3, 4, 8, 4, 4, 1, "same", 1, 4),
    (2, 3, 6, 5, 3, 3, "valid", 1, 1),
    (1, 2, 5, 3, 5, 1, 2, 1, 1),
]


def _torch_compare(torch, y_d, y_t, leaves_d, leaves_t, tol):
    np.testing.assert_allclose(y_d.numpy(), y_t.detach().numpy(), **tol)
    weights = np.random.default_rng(3).standard_normal(y_d.shape).astype(y_d.dtype)
    (y_d * dlx.tensor(weights)).sum().backward()
    (y_t * torch.tensor(weights)).sum().backward()
    for a, b in zip(leaves_d, leaves_t, strict=True):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), **tol)


@pytest.mark.parametrize(
    ("n", "c", "h", "w", "o", "k", "s", "p", "op", "g", "d"), T_CASES, ids=T_IDS
)
@pytest.mark.parametrize("bias", [True, False])
def test_conv_transpose2d_matches_torch(rng, dtype, bias, n, c, h, w, o, k, s, p, op, g, d):
    torch = pytest.importorskip("torch")
    kh, kw = (k, k) if isinstance(k, int) else k
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((c, o // g, kh, kw)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype)
    leaves_d = [dlx.tensor(a, requires_grad=True) for a in (x, wt, b)]
    leaves_t = [torch.tensor(a, requires_grad=True) for a in (x, wt, b)]
    if not bias:
        leaves_d, leaves_t = leaves_d[:2], leaves_t[:2]
    y_d = F.conv_transpose2d(
        *leaves_d, stride=s, padding=p, output_padding=op, groups=g, dilation=d
    )
    y_t = torch.nn.functional.conv_transpose2d(
        *leaves_t, stride=s, padding=p, output_padding=op, groups=g, dilation=d
    )
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {"rtol": 1e-10}
    _torch_compare(torch, y_d, y_t, leaves_d, leaves_t, tol)


def test_conv_transpose2d_layer_matches_torch(rng):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    t = torch.nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    m = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    assert {k: v.shape for k, v in m.state_dict().items()} == {
        k: tuple(v.shape) for k, v in t.state_dict().items()
    }
    m.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    x = rng.standard_normal((2, 4, 5, 5)).astype(np.float32)
    xd, xt = dlx.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    tol = {"rtol": 1e-4, "atol": 1e-5}
    _torch_compare(torch, m(xd), t(xt), [xd, m.weight, m.bias], [xt, t.weight, t.bias], tol)
    # output_size picks the output padding, as in torch
    y_d = m(dlx.tensor(x), output_size=(9, 10))
    y_t = t(torch.tensor(x), output_size=(9, 10))
    assert y_d.shape == tuple(y_t.shape) == (2, 6, 9, 10)
    np.testing.assert_allclose(y_d.numpy(), y_t.detach().numpy(), **tol)


def test_conv_transpose2d_default_init_matches_torch_bounds():
    m = nn.ConvTranspose2d(3, 8, (2, 4), groups=1)
    fan_in = 8 * 2 * 4  # torch reads fan_in from the weight's second axis
    bound = 1 / np.sqrt(fan_in)
    assert np.abs(m.bias.numpy()).max() <= bound
    assert np.abs(m.weight.numpy()).max() <= bound  # kaiming(a=sqrt 5) bound = 1/sqrt(fan_in)
    assert np.abs(m.weight.numpy()).max() > 0.5 * bound


@pytest.mark.parametrize("case", [0, 1, 4, 5])
def test_conv_transpose2d_gradcheck(rng, case):
    n, c, h, w, o, k, s, p, op, g, d = T_CASES[case]
    kh, kw = (k, k) if isinstance(k, int) else k
    n = 1
    x = dlx.tensor(rng.standard_normal((n, c, h, w)), requires_grad=True)
    wt = dlx.tensor(rng.standard_normal((c, o // g, kh, kw)), requires_grad=True)
    b = dlx.tensor(rng.standard_normal(o), requires_grad=True)

    def f(x, wt, b):
        return F.conv_transpose2d(
            x, wt, b, stride=s, padding=p, output_padding=op, groups=g, dilation=d
        )

    assert dlx.autograd.gradcheck(f, (x, wt, b))
    assert dlx.autograd.gradgradcheck(lambda x, wt: f(x, wt, b) ** 2, (x, wt))


@pytest.mark.parametrize(("n", "c", "length", "o", "k", "s", "p", "d", "g"), C1_CASES)
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
def test_conv1d_matches_torch(rng, dtype, n, c, length, o, k, s, p, d, g):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((n, c, length)).astype(dtype)
    wt = rng.standard_normal((o, c // g, k)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype)
    leaves_d = [dlx.tensor(a, requires_grad=True) for a in (x, wt, b)]
    leaves_t = [torch.tensor(a, requires_grad=True) for a in (x, wt, b)]
    y_d = F.conv1d(*leaves_d, stride=s, padding=p, dilation=d, groups=g)
    y_t = torch.nn.functional.conv1d(*leaves_t, stride=s, padding=p, dilation=d, groups=g)
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {"rtol": 1e-10}
    _torch_compare(torch, y_d, y_t, leaves_d, leaves_t, tol)


def test_conv1d_layer_matches_torch(rng):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    t = torch.nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2)
    m = nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2)
    m.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    x = rng.standard_normal((3, 4, 11)).astype(np.float32)
    xd, xt = dlx.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y = m(xd)
    assert y.shape == m.output_shape(x.shape)
    tol = {"rtol": 1e-4, "atol": 1e-5}
    _torch_compare(torch, y, t(xt), [xd, m.weight, m.bias], [xt, t.weight, t.bias], tol)


def test_conv1d_gradcheck(rng):
    x = dlx.tensor(rng.standard_normal((2, 2, 7)), requires_grad=True)
    w = dlx.tensor(rng.standard_normal((4, 1, 3)), requires_grad=True)
    b = dlx.tensor(rng.standard_normal(4), requires_grad=True)
    for kw in (
        {"stride": 2, "padding": 1, "groups": 2},
        {"padding": "same", "dilation": 2, "groups": 2},
    ):
        assert dlx.autograd.gradcheck(lambda x, w, b, kw=kw: F.conv1d(x, w, b, **kw), (x, w, b))


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"stride": 0}, ValueError, "`stride` must be positive"),
        ({"padding": -1}, ValueError, "`padding` must be >= 0"),
        ({"output_padding": 2, "stride": 2}, ValueError, "`output_padding` must be smaller"),
        ({"groups": 3}, ValueError, "not divisible by groups=3"),
        ({"padding": 5}, ValueError, "the output would have size"),
        ({"stride": "a"}, TypeError, "`stride` must be an int"),
    ],
)
def test_conv_transpose2d_errors(kwargs, exc, match):
    x = dlx.zeros((1, 4, 3, 3))
    w = dlx.zeros((4, 2, 3, 3))
    with pytest.raises(exc, match=match):
        F.conv_transpose2d(x, w, **kwargs)


def test_conv_transpose2d_shape_errors():
    with pytest.raises(ValueError, match="`input` must be 4-D"):
        F.conv_transpose2d(dlx.zeros((4, 3, 3)), dlx.zeros((4, 2, 3, 3)))
    with pytest.raises(ValueError, match="expected `input` with 4 channels"):
        F.conv_transpose2d(dlx.zeros((1, 3, 3, 3)), dlx.zeros((4, 2, 3, 3)))
    with pytest.raises(ValueError, match=r"`bias` must have shape \(2,\)"):
        F.conv_transpose2d(dlx.zeros((1, 4, 3, 3)), dlx.zeros((4, 2, 3, 3)), dlx.zeros(3))
    with pytest.raises(TypeError, match="float"):
        F.conv_transpose2d(dlx.zeros((1, 4, 3, 3)), dlx.zeros((4, 2, 3, 3), dtype=dlx.float64))
    with pytest.raises(ValueError, match="`out_channels` must be a positive multiple"):
        nn.ConvTranspose2d(4, 3, 2, groups=2)
    with pytest.raises(ValueError, match="`output_padding` must be smaller"):
        nn.ConvTranspose2d(4, 2, 2, stride=2, output_padding=2)
    m = nn.ConvTranspose2d(4, 2, 3, stride=2)
    with pytest.raises(ValueError, match="expected input with 4 channels"):
        m(dlx.zeros((1, 3, 3, 3)))
    with pytest.raises(ValueError, match=r"`output_size`.*out of reach"):
        m(dlx.zeros((1, 4, 3, 3)), output_size=(9, 9))


def test_conv1d_errors():
    x, w = dlx.zeros((1, 4, 6)), dlx.zeros((2, 4, 3))
    with pytest.raises(ValueError, match="`input` must be 3-D"):
        F.conv1d(dlx.zeros((4, 6)), w)
    with pytest.raises(ValueError, match="`weight` must be 3-D"):
        F.conv1d(x, dlx.zeros((2, 4, 3, 1)))
    with pytest.raises(ValueError, match="`padding`='same' needs stride 1"):
        F.conv1d(x, w, stride=2, padding="same")
    with pytest.raises(ValueError, match="`padding` must be an int, 'same' or 'valid'"):
        F.conv1d(x, w, padding="full")
    with pytest.raises(ValueError, match="expected `input` with 2 channels"):
        F.conv1d(x, dlx.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match="`kernel_size` must be an int or a 1-tuple"):
        nn.Conv1d(4, 2, (3, 3))
    with pytest.raises(ValueError, match="`stride` must be positive"):
        nn.Conv1d(4, 2, 3, stride=0)
    with pytest.raises(ValueError, match="expected 3-D input"):
        nn.Conv1d(4, 2, 3)(dlx.zeros((1, 4, 6, 1)))


def test_conv_layers_save_load_and_summary(tmp_path):
    model = nn.Sequential(
        nn.Conv1d(2, 4, 3, padding="same"),
        nn.ReLU(),
        nn.Flatten(),
    )
    path = tmp_path / "c1.safetensors"
    dlx.save(model, path)
    loaded = dlx.load(path)
    assert repr(loaded) == repr(model)
    x = dlx.tensor(np.random.default_rng(0).standard_normal((2, 2, 8)).astype(np.float32))
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    assert "(None, 4, 8)" in model.summary((2, 8))

    ae = nn.Sequential(
        nn.Conv2d(1, 4, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.ConvTranspose2d(4, 1, 3, stride=2, padding=1, output_padding=1),
    )
    path = tmp_path / "ct.safetensors"
    dlx.save(ae, path)
    loaded = dlx.load(path)
    assert repr(loaded) == repr(ae)
    x = dlx.tensor(np.random.default_rng(1).standard_normal((2, 1, 8, 8)).astype(np.float32))
    np.testing.assert_array_equal(loaded(x).numpy(), ae(x).numpy())
    text = ae.summary((1, 8, 8))
    assert "(None, 1, 8, 8)" in text
    assert "(ConvTranspose2d)" in text
    assert f"{4 * 1 * 9 + 1:,}" in text
