"""NumPy references for the loss kernels (PyTorch semantics, sums in float64).

``reduction`` is ``"mean"``, ``"sum"`` (0-d results) or ``"none"``; a mean over nothing is
NaN, as in PyTorch.
"""

from __future__ import annotations

import numpy as np

from dlx.reference.softmax import log_softmax_forward

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        msg = f"`reduction` must be 'mean', 'sum' or 'none', got {reduction!r}"
        raise ValueError(msg)


def _reduce(per, reduction, dtype, denominator=None):
    """Per-sample values reduced to a 0-d array (mean/sum) or kept (none), in ``dtype``."""
    _check_reduction(reduction)
    if reduction == "none":
        return per.astype(dtype)
    total = np.float64(per.sum(dtype=np.float64))
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            total = total / np.float64(per.size if denominator is None else denominator)
    return np.asarray(total, dtype=dtype)


def _grad_scale(grad_loss, reduction, denominator):
    """The factor grad_loss contributes per element: an array (none) or a float64 scalar."""
    _check_reduction(reduction)
    if reduction == "none":
        return grad_loss.astype(np.float64)
    g = np.float64(grad_loss)
    return g / np.float64(denominator) if reduction == "mean" else g


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


# cross-entropy from logits (N, C)


def _class_terms(target, weight, ignore_index, c):
    """(kept rows, safe labels, weight of each row's label (0 if ignored), class weights)."""
    w = np.ones(c) if weight is None else weight.astype(np.float64)
    keep = target != ignore_index
    safe = np.where(keep, target, 0)
    wy = np.where(keep, w[safe], 0.0) if c > 0 else np.zeros(target.shape)
    return keep, safe, wy, w


def cross_entropy_forward(
    logits, target, weight=None, ignore_index=-100, label_smoothing=0.0, reduction="mean"
):
    """``(loss, log_probs)``; target int64 class indices (N,) or probabilities (N, C)."""
    n, c = logits.shape
    lp = log_softmax_forward(logits, axis=1)
    lpd = lp.astype(np.float64)
    eps = label_smoothing
    if target.dtype == np.int64:
        keep, safe, wy, w = _class_terms(target, weight, ignore_index, c)
        picked = lpd[np.arange(n), safe] if c > 0 else np.zeros(n)
        smooth = np.where(keep, -(lpd * w).sum(axis=1), 0.0)
        per = (1 - eps) * (-wy * picked) + eps / c * smooth if c > 0 else np.zeros(n)
        return _reduce(per, reduction, logits.dtype, wy.sum()), lp
    w = np.ones(c) if weight is None else weight.astype(np.float64)
    t = target.astype(np.float64) * (1 - eps) + eps / max(c, 1)
    per = -(w * t * lpd).sum(axis=1)
    return _reduce(per, reduction, logits.dtype, n), lp


def cross_entropy_backward(
    grad_loss,
    log_probs,
    target,
    weight=None,
    ignore_index=-100,
    label_smoothing=0.0,
    reduction="mean",
):
    """Gradient with respect to the logits, from the forward's log_probs."""
    n, c = log_probs.shape
    p = np.exp(log_probs.astype(np.float64))
    eps = label_smoothing
    if target.dtype == np.int64:
        keep, safe, wy, w = _class_terms(target, weight, ignore_index, c)
        onehot = np.zeros((n, c))
        onehot[np.arange(n), safe] = 1.0
        d = ((1 - eps) * wy)[:, None] * (p - onehot) + eps / c * (w.sum() * p - w)
        d = np.where(keep[:, None], d, 0.0)
        den = wy.sum()
    else:
        w = np.ones(c) if weight is None else weight.astype(np.float64)
        t = target.astype(np.float64) * (1 - eps) + eps / c
        d = p * (w * t).sum(axis=1, keepdims=True) - w * t
        den = n
    g = _grad_scale(grad_loss, reduction, den)
    g = g[:, None] if reduction == "none" else g
    return (g * d).astype(log_probs.dtype)


# elementwise losses


def bce_with_logits_forward(logits, target, pos_weight=None, reduction="mean"):
    """``(1 - t) x + lw (log1p(exp(-|x|)) + max(-x, 0))``, ``lw = 1 + (pos_weight - 1) t``."""
    x, t = logits, target
    lw = 1 if pos_weight is None else 1 + (pos_weight - 1) * t
    per = (1 - t) * x + lw * (np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0))
    return _reduce(per, reduction, x.dtype)


def bce_with_logits_backward(grad_loss, logits, target, pos_weight=None, reduction="mean"):
    x, t = logits, target
    lw = 1 if pos_weight is None else 1 + (pos_weight - 1) * t
    d = (1 - t) - lw * _sigmoid(-x)
    return (_grad_scale(grad_loss, reduction, x.size) * d).astype(x.dtype)


def mse_loss_forward(x, target, reduction="mean"):
    return _reduce((x - target) ** 2, reduction, x.dtype)


def mse_loss_backward(grad_loss, x, target, reduction="mean"):
    return (_grad_scale(grad_loss, reduction, x.size) * (2 * (x - target))).astype(x.dtype)


def l1_loss_forward(x, target, reduction="mean"):
    return _reduce(np.abs(x - target), reduction, x.dtype)


def l1_loss_backward(grad_loss, x, target, reduction="mean"):
    return (_grad_scale(grad_loss, reduction, x.size) * np.sign(x - target)).astype(x.dtype)


def huber_loss_forward(x, target, delta=1.0, reduction="mean"):
    a = np.abs(x - target)
    per = np.where(a < delta, 0.5 * a * a, delta * (a - 0.5 * delta))
    return _reduce(per, reduction, x.dtype)


def huber_loss_backward(grad_loss, x, target, delta=1.0, reduction="mean"):
    d = np.clip(x - target, -delta, delta)
    return (_grad_scale(grad_loss, reduction, x.size) * d).astype(x.dtype)
