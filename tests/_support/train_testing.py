"""Shared helpers for the training tests: a tiny digits task and a dlx-ops cross-entropy."""

from __future__ import annotations

import numpy as np

import dlx
from dlx import nn
from dlx.data import load_digits


def cross_entropy(logits, target):
    """Mean softmax cross-entropy from dlx ops (the real loss lives in dlx.nn)."""
    labels = np.asarray(target.numpy()).astype(np.int64)
    shift = logits - dlx.Tensor(logits.numpy().max(axis=1, keepdims=True))
    log_z = dlx.log(dlx.exp(shift).sum(axis=1, keepdims=True))
    onehot = np.zeros(logits.shape, dtype=logits.dtype)
    onehot[np.arange(len(labels)), labels] = 1.0
    return ((log_z - shift) * dlx.Tensor(onehot)).sum() / max(len(labels), 1)


class Relu(nn.Module):
    def forward(self, x):
        return x.relu()


class Noise(nn.Module):
    """Adds N(0, 0.01) noise in training mode (draws from dlx's default generator)."""

    def forward(self, x):
        if not self.training:
            return x
        return x + dlx.Tensor(dlx.randn(*x.shape).numpy().astype(x.dtype) * 0.01)


def digits(n=300):
    x, y = load_digits()
    return x[:n].reshape(n, -1), y[:n]


def mlp(seed=0, hidden=32, noise=False):
    dlx.manual_seed(seed)
    layers = [nn.Linear(64, hidden), nn.ReLU()]
    if noise:
        layers.append(Noise())
    return nn.Sequential(*layers, nn.Linear(hidden, 10))


def weights(model):
    return {k: np.array(v, copy=True) for k, v in model.state_dict().items()}
