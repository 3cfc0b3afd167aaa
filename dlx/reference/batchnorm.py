"""NumPy reference for batch normalisation over axis 1 (PyTorch semantics)."""

from __future__ import annotations

import numpy as np


def _axes(x):
    return (0, *range(2, x.ndim))


def _per_channel(v, ndim):
    """A (C,) array shaped to broadcast against an (N, C, *spatial) array."""
    return v.reshape((1, -1) + (1,) * (ndim - 2))


def batch_norm_forward(
    x, weight, bias, running_mean, running_var, training, momentum=0.1, eps=1e-5
):
    """(output, save_mean, save_invstd); updates running_mean / running_var in place.

    Training uses the batch mean and biased variance; the running variance is updated
    with the unbiased one. Eval uses the running statistics.
    """
    axes = _axes(x)
    m = x.size // x.shape[1] if x.shape[1] else 0
    if training and m == 0:  # empty batch: nothing to normalise, running stats untouched
        c = x.shape[1]
        return x.copy(), np.zeros(c, x.dtype), np.zeros(c, x.dtype)
    if training:
        x64 = x.astype(np.float64)
        mean = x64.mean(axis=axes)
        var = ((x64 - _per_channel(mean, x.ndim)) ** 2).mean(axis=axes)
        if running_mean is not None:
            unbiased = var * m / (m - 1)
            running_mean[...] = (1 - momentum) * running_mean + momentum * mean
            running_var[...] = (1 - momentum) * running_var + momentum * unbiased
    else:
        mean = running_mean.astype(np.float64)
        var = running_var.astype(np.float64)
    invstd = 1.0 / np.sqrt(var + eps)
    y = (x - _per_channel(mean, x.ndim)) * _per_channel(invstd, x.ndim)
    if weight is not None:
        y = y * _per_channel(weight, x.ndim)
    if bias is not None:
        y = y + _per_channel(bias, x.ndim)
    return y.astype(x.dtype), mean.astype(x.dtype), invstd.astype(x.dtype)


def batch_norm_backward(grad_output, x, weight, save_mean, save_invstd, training):
    """(grad_input, grad_weight or None when weight is None, grad_bias)."""
    axes, nd = _axes(x), x.ndim
    m = x.size // x.shape[1] if x.shape[1] else 0
    g = grad_output.astype(np.float64)
    xmu = x.astype(np.float64) - _per_channel(save_mean.astype(np.float64), nd)
    invstd = save_invstd.astype(np.float64)
    w = np.ones_like(invstd) if weight is None else weight.astype(np.float64)
    sum_g = g.sum(axis=axes)
    sum_gx = (g * xmu).sum(axis=axes)
    k = _per_channel(w * invstd, nd)
    if training and m > 0:
        gx = k * (g - _per_channel(sum_g / m, nd) - xmu * _per_channel(invstd**2 * sum_gx / m, nd))
    else:
        gx = k * g
    dt = x.dtype
    gw = None if weight is None else (sum_gx * invstd).astype(dt)
    return gx.astype(dt), gw, sum_g.astype(dt)
