"""``gaussian_mixture_nll``: the mixture density network loss, built from dlx ops."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlx._ops import reduce as _red
from dlx._ops import unary as _un
from dlx._ops.activation import sigmoid
from dlx._ops.elementwise import as_tensor
from dlx._ops.shape import unsqueeze
from dlx._validation import same_float_dtype, shape_str
from dlx.autograd.function import Function
from dlx.nn.functional._loss import check_reduction
from dlx.tensor import Tensor

__all__ = ["gaussian_mixture_nll"]

_VARIANCES = ("softplus", "exp")


class _Softplus(Function):
    """log(1 + exp(x)) without overflow; its derivative is sigmoid(x)."""

    double_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.logaddexp(x.dtype.type(0), x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * sigmoid(x)


def _logsumexp(a: Tensor, axis: int) -> Tensor:
    """log(sum(exp(a), axis)) with the (constant) max subtracted first."""
    m = np.max(a._data, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0).astype(a.dtype, copy=False)
    s = _red.sum(_un.exp(a - m), axis=axis)
    return _un.log(s) + np.squeeze(m, axis=axis)


def gaussian_mixture_nll(
    logits_pi: Any,
    mu: Any,
    sigma_raw: Any,
    target: Any,
    variance: str = "softplus",
    reduction: str = "mean",
    eps: float = 1e-6,
) -> Tensor:
    """Negative log-likelihood of ``target`` under a mixture of K diagonal Gaussians.

    ``p(y) = sum_k pi_k prod_d N(y_d | mu_kd, sigma_kd^2)`` with ``pi = softmax(logits_pi)``;
    the loss is ``-log p(y)``, computed as a log-sum-exp over components of
    ``log pi_k + sum_d log N(...)`` so neither tiny densities nor large logits overflow.

    Parameters
    ----------
    logits_pi : Tensor
        ``(*, K)`` unnormalised mixture weights.
    mu : Tensor
        ``(*, K, D)`` component means.
    sigma_raw : Tensor
        ``(*, K, D)`` unconstrained scales: ``sigma = softplus(sigma_raw) + eps``
        (``variance="softplus"``) or ``sigma = exp(sigma_raw)`` (``variance="exp"``).
    target : Tensor
        ``(*, D)`` observed values.
    variance : {"softplus", "exp"}
        How ``sigma_raw`` becomes a standard deviation.
    reduction : {"mean", "sum", "none"}
        ``none`` returns the per-sample loss of shape ``(*)``.
    eps : float
        Floor added to the softplus standard deviation (ignored for ``exp``).

    Returns
    -------
    Tensor
        The loss (a scalar unless ``reduction="none"``).
    """
    fn = "gaussian_mixture_nll"
    reduction = check_reduction(fn, reduction)
    if variance not in _VARIANCES:
        msg = f"{fn}: `variance` must be 'softplus' or 'exp', got {variance!r}"
        raise ValueError(msg)
    if not (isinstance(eps, int | float) and eps >= 0):
        msg = f"{fn}: `eps` must be a non-negative number, got {eps!r}"
        raise ValueError(msg)
    lp, m, sr, y = (as_tensor(t) for t in (logits_pi, mu, sigma_raw, target))
    if m.ndim < 2:
        msg = f"{fn}: `mu` must have shape (*, K, D), got {shape_str(m.shape)}"
        raise ValueError(msg)
    batch, k, d = m.shape[:-2], m.shape[-2], m.shape[-1]
    for name, t, shape in (
        ("logits_pi", lp, (*batch, k)),
        ("sigma_raw", sr, (*batch, k, d)),
        ("target", y, (*batch, d)),
    ):
        if t.shape != shape:
            msg = (
                f"{fn}: `{name}` must have shape {shape_str(shape)} to match `mu` of shape "
                f"{shape_str(m.shape)} (K={k} components, D={d} dims), got {shape_str(t.shape)}"
            )
            raise ValueError(msg)
    same_float_dtype(fn, logits_pi=lp._data, mu=m._data, sigma_raw=sr._data, target=y._data)

    if variance == "exp":
        log_sigma = sr
        z = (unsqueeze(y, -2) - m) * _un.exp(-sr)
    else:
        sigma = _Softplus.apply(sr) + eps
        log_sigma = _un.log(sigma)
        z = (unsqueeze(y, -2) - m) / sigma
    log_norm = 0.5 * d * math.log(2 * math.pi)
    comp = _red.sum(z * z, axis=-1) * -0.5 - _red.sum(log_sigma, axis=-1) - log_norm  # (*, K)
    log_pi = lp - unsqueeze(_logsumexp(lp, -1), -1)
    loss = -_logsumexp(log_pi + comp, -1)  # (*)
    if reduction == "sum":
        return _red.sum(loss)
    if reduction == "mean":
        return _red.mean(loss)
    return loss
