"""NumPy references for softmax and log-softmax along an axis (sums in float64)."""

from __future__ import annotations

import numpy as np


def _shifted_exp(x, axis):
    """``(x - max, exp(x - max), sum of exp in float64)`` along axis."""
    z = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(z)
    return z, e, e.sum(axis=axis, keepdims=True, dtype=np.float64)


def softmax_forward(x, axis=-1):
    """``exp(x - max) / sum(exp(x - max))`` along ``axis``."""
    if x.size == 0:
        return x.copy()
    _, e, s = _shifted_exp(x, axis)
    return (e / s).astype(x.dtype)


def log_softmax_forward(x, axis=-1):
    """``(x - max) - log(sum(exp(x - max)))`` along ``axis``."""
    if x.size == 0:
        return x.copy()
    z, _, s = _shifted_exp(x, axis)
    return z - np.log(s).astype(x.dtype)


def softmax_backward(grad_output, y, axis=-1):
    """``y * (grad_output - sum(grad_output * y))``, y the forward output."""
    dot = (grad_output.astype(np.float64) * y).sum(axis=axis, keepdims=True)
    return y * (grad_output - dot.astype(y.dtype))


def log_softmax_backward(grad_output, y, axis=-1):
    """``grad_output - exp(y) * sum(grad_output)``, y the forward output."""
    s = grad_output.sum(axis=axis, keepdims=True, dtype=np.float64)
    return grad_output - np.exp(y) * s.astype(y.dtype)
