"""Stateless differentiable ops with PyTorch's names and argument order."""

from __future__ import annotations

from dlx._ops.shape import flatten
from dlx.nn.functional._linear import linear
from dlx.nn.functional._loss import cross_entropy, nll_loss
from dlx.nn.functional._loss_elementwise import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    huber_loss,
    l1_loss,
    mse_loss,
)
from dlx.nn.functional._mdn import gaussian_mixture_nll
from dlx.nn.functional._rnn import rnn

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "flatten",
    "gaussian_mixture_nll",
    "huber_loss",
    "l1_loss",
    "linear",
    "mse_loss",
    "nll_loss",
    "rnn",
]
