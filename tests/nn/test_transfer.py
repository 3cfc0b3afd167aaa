"""dlx.nn.transfer: freeze / unfreeze and copy_weights between models."""

from __future__ import annotations

import numpy as np
import pytest

import dlx
import dlx.optim
from dlx import nn
from dlx.nn.transfer import copy_weights, freeze, unfreeze


def test_freeze_stops_gradients_and_optimizer_updates():
    dlx.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    assert freeze(model[0]) is model[0]
    frozen = model[0].weight.numpy().copy()
    head = model[2].weight.numpy().copy()
    opt = dlx.optim.SGD(model.parameters(), lr=0.1, weight_decay=0.1)
    x = dlx.tensor(np.random.default_rng(0).random((5, 4)).astype(np.float32))
    model(x).sum().backward()
    assert model[0].weight.grad is None
    opt.step()
    np.testing.assert_array_equal(model[0].weight.data, frozen)
    assert not np.array_equal(model[2].weight.data, head)
    unfreeze(model[0])
    assert all(p.requires_grad for p in model.parameters())


def test_copy_weights_copies_in_place_and_casts():
    dlx.manual_seed(0)
    src = nn.Linear(6, 4).double()
    dst = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2))
    target = dst[0].weight.numpy()  # the array must be kept (optimisers hold views)
    keys = copy_weights(src, dst[0])
    assert keys == ["weight", "bias"]
    assert dst[0].weight.numpy() is target
    assert target.dtype == np.float32
    np.testing.assert_allclose(target, src.weight.data, rtol=1e-6)
    np.testing.assert_allclose(dst[0].bias.data, src.bias.data, rtol=1e-6)


def test_copy_weights_copies_buffers_and_nested_keys():
    a = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    b = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    with dlx.no_grad():
        a[1].running_mean.fill_(3.0)
    copy_weights(a, b)
    np.testing.assert_array_equal(b[1].running_mean.data, [3.0, 3.0])
    np.testing.assert_array_equal(b[0].weight.data, a[0].weight.data)


def test_copy_weights_shape_mismatch_names_key():
    src, dst = nn.Linear(6, 4), nn.Linear(6, 5)
    before = dst.weight.numpy().copy()
    with pytest.raises(ValueError, match=r"key 'weight' has shape \(4, 6\) in `src` but \(5, 6\)"):
        copy_weights(src, dst)
    np.testing.assert_array_equal(dst.weight.data, before)  # nothing copied


def test_copy_weights_strict_key_mismatch():
    src = nn.Linear(3, 3, bias=False)
    dst = nn.Linear(3, 3)
    with pytest.raises(ValueError, match=r"missing in `src` \['bias'\]"):
        copy_weights(src, dst)
    assert copy_weights(src, dst, strict=False) == ["weight"]
    np.testing.assert_array_equal(dst.weight.data, src.weight.data)


def test_transfer_rejects_non_modules():
    with pytest.raises(TypeError, match=r"`module` must be a dlx\.nn\.Module"):
        freeze([1, 2])
    with pytest.raises(TypeError, match=r"`src` must be a dlx\.nn\.Module"):
        copy_weights(np.zeros(3), nn.Linear(1, 1))
