"""unfold/fold, interpolate/Upsample, adaptive avg/max pooling: torch oracle (outputs and
gradients), float64 gradcheck, errors, save/load and summary."""

from __future__ import annotations

import numpy as np
import pytest

import dlx
from dlx import nn
from dlx.nn import functional as F


def _tol(dtype):
    return {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-10}


def _match(torch, fd, ft, x, dtype, **kw):
    xd, xt = dlx.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yd, yt = fd(xd, **kw), ft(xt, **kw)
    np.testing.assert_allclose(yd.numpy(), yt.detach().numpy(), **_tol(dtype))
    w = np.random.default_rng(2).standard_normal(yd.shape).astype(dtype)
    (yd * dlx.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xd.grad, xt.grad.numpy(), **_tol(dtype))


@pytest.mark.parametrize(
    "kw",
    [
        {"kernel_size": 2},
        {"kernel_size": (2, 3), "stride": 2, "padding": 1},
        {"kernel_size": 3, "dilation": 2, "padding": (2, 1), "stride": (1, 2)},
    ],
    ids=str,
)
def test_unfold_fold_match_torch(rng, dtype, kw):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 7, 6)).astype(dtype)
    _match(torch, F.unfold, torch.nn.functional.unfold, x, dtype, **kw)
    cols = torch.nn.functional.unfold(torch.tensor(x), **kw).numpy()
    _match(torch, F.fold, torch.nn.functional.fold, cols, dtype, output_size=(7, 6), **kw)


def test_unfold_fold_gradcheck(rng):
    x = dlx.tensor(rng.standard_normal((1, 2, 4, 5)), requires_grad=True)
    assert dlx.autograd.gradcheck(lambda x: F.unfold(x, 2, stride=(1, 2), padding=1), (x,))
    cols = dlx.tensor(rng.standard_normal((1, 8, 20)), requires_grad=True)
    assert dlx.autograd.gradcheck(lambda c: F.fold(c, (4, 5), 2, padding=(1, 0)), (cols,))
    assert dlx.autograd.gradgradcheck(lambda x: F.unfold(x, 2) ** 2, (x,))


def test_unfold_fold_errors():
    with pytest.raises(ValueError, match="`input` must be a 4-D"):
        F.unfold(dlx.zeros((2, 3, 4)), 2)
    with pytest.raises(ValueError, match="`kernel_size` must be positive"):
        F.unfold(dlx.zeros((1, 1, 4, 4)), 0)
    with pytest.raises(ValueError, match="smaller than the"):
        F.unfold(dlx.zeros((1, 1, 2, 2)), 3)
    with pytest.raises(ValueError, match="divisible by kH\\*kW=4"):
        F.fold(dlx.zeros((1, 6, 9)), (4, 4), 2)
    with pytest.raises(ValueError, match="must have 9 blocks"):
        F.fold(dlx.zeros((1, 8, 8)), (4, 4), 2)


INTERP = [
    ({"scale_factor": 2, "mode": "nearest"}),
    ({"size": (5, 7), "mode": "nearest"}),
    ({"scale_factor": 0.5, "mode": "nearest"}),
    ({"scale_factor": (1.5, 2.5), "mode": "nearest"}),
    ({"scale_factor": 2, "mode": "bilinear", "align_corners": False}),
    ({"scale_factor": 2, "mode": "bilinear", "align_corners": True}),
    ({"size": (3, 10), "mode": "bilinear", "align_corners": False}),
    ({"size": (1, 4), "mode": "bilinear", "align_corners": True}),
    ({"scale_factor": 1.7, "mode": "bilinear"}),
    ({"scale_factor": 1.7, "mode": "bilinear", "recompute_scale_factor": True}),
    ({"scale_factor": 0.6, "mode": "nearest", "recompute_scale_factor": True}),
]


@pytest.mark.parametrize("kw", INTERP, ids=str)
def test_interpolate_matches_torch(rng, dtype, kw):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 4, 6)).astype(dtype)
    _match(torch, F.interpolate, torch.nn.functional.interpolate, x, dtype, **kw)


def test_upsample_layer_and_gradcheck(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((1, 2, 3, 3))
    m = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
    t = torch.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
    np.testing.assert_allclose(m(dlx.tensor(x)).numpy(), t(torch.tensor(x)).numpy(), rtol=1e-10)
    assert m.output_shape((1, 2, 3, 3)) == (1, 2, 6, 6)
    xd = dlx.tensor(x, requires_grad=True)
    assert dlx.autograd.gradcheck(lambda x: m(x), (xd,))
    assert dlx.autograd.gradcheck(lambda x: F.interpolate(x, size=(4, 2)), (xd,))


def test_interpolate_errors():
    x = dlx.zeros((1, 1, 4, 4))
    with pytest.raises(ValueError, match="`mode` must be 'nearest' or 'bilinear'"):
        F.interpolate(x, scale_factor=2, mode="bicubic")
    with pytest.raises(ValueError, match="exactly one of `size` and `scale_factor`"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="exactly one of `size` and `scale_factor`"):
        F.interpolate(x, size=2, scale_factor=2)
    with pytest.raises(ValueError, match="`align_corners` only applies"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(ValueError, match="`scale_factor` must be a positive"):
        F.interpolate(x, scale_factor=-1)
    with pytest.raises(ValueError, match="`input` must be 4-D"):
        F.interpolate(dlx.zeros((1, 4, 4)), scale_factor=2)
    with pytest.raises(ValueError, match="gives an empty output"):
        F.interpolate(x, scale_factor=0.1)
    with pytest.raises(ValueError, match="exactly one of"):
        nn.Upsample()


ADAPTIVE = [(3, 3), (2, 5), (4, 1), (7, 6), (1, 1), (None, 3), (5, None)]


@pytest.mark.parametrize("size", ADAPTIVE, ids=str)
def test_adaptive_pools_match_torch(rng, dtype, size):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 7, 10)).astype(dtype)
    tf = torch.nn.functional
    _match(torch, F.adaptive_avg_pool2d, tf.adaptive_avg_pool2d, x, dtype, output_size=size)
    _match(torch, F.adaptive_max_pool2d, tf.adaptive_max_pool2d, x, dtype, output_size=size)
    _, idx_d = F.adaptive_max_pool2d(dlx.tensor(x), size, return_indices=True)
    _, idx_t = tf.adaptive_max_pool2d(torch.tensor(x), size, return_indices=True)
    np.testing.assert_array_equal(idx_d.numpy(), idx_t.numpy())
    assert idx_d.dtype == np.int64


def test_adaptive_pool_layers_match_torch(rng):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((1, 2, 9, 5)).astype(np.float32)
    for d, t in (
        (nn.AdaptiveAvgPool2d(4), torch.nn.AdaptiveAvgPool2d(4)),
        (nn.AdaptiveMaxPool2d((2, 3)), torch.nn.AdaptiveMaxPool2d((2, 3))),
    ):
        y = d(dlx.tensor(x))
        np.testing.assert_allclose(y.numpy(), t(torch.tensor(x)).numpy(), rtol=1e-5, atol=1e-6)
        assert y.shape == d.output_shape(x.shape)
    y, idx = nn.AdaptiveMaxPool2d(3, return_indices=True)(dlx.tensor(x))
    np.testing.assert_array_equal(
        idx.numpy(), torch.nn.AdaptiveMaxPool2d(3, return_indices=True)(torch.tensor(x))[1].numpy()
    )


def test_adaptive_pools_gradcheck(rng):
    x = dlx.tensor(rng.standard_normal((1, 2, 5, 7)), requires_grad=True)
    assert dlx.autograd.gradcheck(lambda x: F.adaptive_avg_pool2d(x, (3, 4)), (x,))
    assert dlx.autograd.gradcheck(lambda x: F.adaptive_max_pool2d(x, (2, 3)), (x,))
    assert dlx.autograd.gradgradcheck(lambda x: F.adaptive_avg_pool2d(x, 3) ** 2, (x,))


def test_adaptive_pool_errors():
    with pytest.raises(ValueError, match="`output_size` must be positive"):
        F.adaptive_avg_pool2d(dlx.zeros((1, 1, 4, 4)), 0)
    with pytest.raises(ValueError, match="`output_size` must be an int or a pair"):
        F.adaptive_max_pool2d(dlx.zeros((1, 1, 4, 4)), (1, 2, 3))
    with pytest.raises(ValueError, match="`input` must be 4-D"):
        F.adaptive_avg_pool2d(dlx.zeros((4, 4)), 2)
    with pytest.raises(TypeError, match="must be a float tensor"):
        F.adaptive_max_pool2d(dlx.zeros((1, 1, 4, 4), dtype=dlx.int64), 2)
    with pytest.raises(ValueError, match="`output_size` must be positive"):
        nn.AdaptiveAvgPool2d((2, -1))
    with pytest.raises(ValueError, match="expected 4-D input"):
        nn.AdaptiveMaxPool2d(2)(dlx.zeros((1, 4, 4)))


def test_resize_layers_save_load_and_summary(tmp_path):
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1),
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
        nn.AdaptiveMaxPool2d((5, 3)),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
    )
    path = tmp_path / "r.safetensors"
    dlx.save(model, path)
    loaded = dlx.load(path)
    assert repr(loaded) == repr(model)
    x = dlx.tensor(np.random.default_rng(0).standard_normal((2, 1, 6, 6)).astype(np.float32))
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    text = model.summary((1, 6, 6))
    for row in ("(None, 2, 12, 12)", "(None, 2, 5, 3)", "(None, 2, 2, 2)", "(None, 8)"):
        assert row in text
