"""Sequential's no-grad fast path (dlx/nn/modules/_infer.py) matches the regular path."""

from __future__ import annotations

import numpy as np
import pytest
from dlx_testing import assert_close

import dlx
from dlx import nn


def _cnn(dtype):
    m = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 3, 3, stride=2),
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(3 * 2 * 2, 5),
        nn.ReLU(),
        nn.Identity(),
        nn.Linear(5, 3),
    )
    return m.to(dtype)


@pytest.mark.parametrize("batch", [0, 1, 3])
def test_sequential_infer_matches_graph_path(rng, dtype, batch):
    dlx.manual_seed(0)
    model = _cnn(dtype)
    model.eval()
    x = dlx.from_numpy(rng.standard_normal((batch, 2, 11, 11)).astype(dtype))
    with dlx.no_grad():
        fast = model(x)
    slow = model(x)
    assert not fast.requires_grad
    assert fast.dtype == slow.dtype
    assert fast.shape == (batch, 3)
    assert_close(fast.numpy(), slow.detach().numpy(), rtol=1e-12, atol=0)


def test_sequential_infer_falls_back_for_hooks_and_training_dropout(rng):
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.ReLU())
    seen = []
    model[2].register_forward_hook(lambda m, args, out: seen.append(out.shape))
    x = dlx.from_numpy(rng.standard_normal((6, 4)).astype(np.float32))
    with dlx.no_grad():
        y = model(x)  # training mode: dropout stops the fast path, the hook still runs
    assert seen == [(6, 4)]
    assert (y.numpy() == 0).any()


def test_sequential_infer_errors_match_graph_path(rng):
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    x = dlx.from_numpy(rng.standard_normal((2, 5)).astype(np.float32))
    with pytest.raises(ValueError, match="in_features") as slow:
        model(x)
    with dlx.no_grad(), pytest.raises(ValueError, match="in_features") as fast:
        model(x)
    assert str(fast.value) == str(slow.value)
    conv = nn.Sequential(nn.Conv2d(1, 2, 5))
    small = dlx.from_numpy(np.zeros((1, 1, 3, 3), np.float32))
    with dlx.no_grad(), pytest.raises(ValueError, match="conv2d"):
        conv(small)
