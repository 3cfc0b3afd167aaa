"""More PyTorch losses, composed from differentiable ops: smooth L1 (the Huber kernel),
KL divergence, Gaussian and Poisson NLL, cosine-embedding, margin-ranking, triplet-margin.

Each follows ``torch.nn.functional``'s formula and options; reductions are ``"mean"``
(over every element of the unreduced loss), ``"sum"`` and ``"none"`` (``kl_div`` also
``"batchmean"``). Shapes are checked up front and mismatches name both shapes.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from dlx._ops.elementwise import as_tensor, minimum, where
from dlx._ops.norms import norm
from dlx._ops.pointwise import clamp_min
from dlx._ops.unary import exp, log
from dlx._validation import same_float_dtype, shape_str
from dlx.autograd.function import Function
from dlx.nn.functional._loss import check_reduction
from dlx.nn.functional._loss_elementwise import _pair, huber_loss, l1_loss
from dlx.tensor import Tensor

__all__ = [
    "cosine_embedding_loss",
    "gaussian_nll_loss",
    "kl_div",
    "margin_ranking_loss",
    "poisson_nll_loss",
    "smooth_l1_loss",
    "triplet_margin_loss",
]


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.mean()
    return loss


def _number(fn: str, value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        msg = f"{fn}: `{name}` must be a real number, got {type(value).__name__}"
        raise TypeError(msg)
    return float(value)


def _cast(t: Tensor, dtype: np.dtype, fn: str, name: str) -> Tensor:
    """``t`` in ``dtype``: a constant is converted, one that requires grad must match."""
    if t.dtype == dtype:
        return t
    if t.requires_grad:
        msg = f"{fn}: `{name}` has dtype {t.dtype} but `input` has dtype {dtype}"
        raise TypeError(msg)
    return Tensor(t._data.astype(dtype))


# -- smooth L1 -------------------------------------------------------------------------
def smooth_l1_loss(input: Any, target: Any, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Smooth L1 (``F.smooth_l1_loss``): ``0.5 d**2 / beta`` for ``|d| < beta``, else
    ``|d| - 0.5 beta``; ``beta = 0`` is the L1 loss. ``beta >= 0``; same shapes."""
    fn = "smooth_l1_loss"
    check_reduction(fn, reduction)
    b = _number(fn, beta, "beta")
    if not (b >= 0 and math.isfinite(b)):
        msg = f"{fn}: `beta` must be a finite number >= 0, got {beta!r}"
        raise ValueError(msg)
    x, t = _pair(fn, input, target)  # the checks, in this function's name
    if b == 0:
        return l1_loss(x, t, reduction)
    # smooth_l1(d; beta) = huber(d; delta=beta) / beta, on the fused Huber kernel.
    return huber_loss(x, t, reduction, b) / b


# -- KL divergence ---------------------------------------------------------------------
def kl_div(input: Any, target: Any, reduction: str = "mean", log_target: bool = False) -> Tensor:
    """KL divergence ``KL(target || exp(input))`` pointwise (``F.kl_div``).

    ``input`` holds log-probabilities; ``target`` probabilities, or log-probabilities when
    ``log_target``. Pointwise ``target * (log(target) - input)`` (0 where target is 0), or
    ``exp(target) * (target - input)``. ``reduction="batchmean"`` divides the sum by the
    batch size (``input.shape[0]``), the mathematically correct KL; ``"mean"`` divides by
    the number of elements, as in PyTorch. Same shapes.
    """
    fn = "kl_div"
    if reduction != "batchmean":
        check_reduction(fn, reduction)
    if not isinstance(log_target, bool | np.bool_):
        msg = f"{fn}: `log_target` must be a bool, got {type(log_target).__name__}"
        raise TypeError(msg)
    if reduction == "mean":
        msg = (
            "kl_div: reduction='mean' divides the total loss by the number of elements, not "
            "by the batch size; reduction='batchmean' gives the KL divergence (as PyTorch warns)"
        )
        warnings.warn(msg, UserWarning, stacklevel=2)
    x, t = _pair(fn, input, target)
    if log_target:
        loss = exp(t) * (t - x)
    else:
        positive = t._data > 0
        safe = where(Tensor(positive), t, 1.0)  # log(1) = 0 where target is 0: no NaN grads
        loss = t * log(safe) - t * x
    if reduction == "batchmean":
        total = loss.sum()
        return total / x.shape[0] if x.ndim else total
    return _reduce(loss, reduction)


# -- Gaussian NLL ----------------------------------------------------------------------
class _ClampValue(Function):
    """``max(v, eps)`` with the gradient of the identity (PyTorch clamps var under no_grad)."""

    double_backward = True

    @staticmethod
    def forward(ctx, v, eps):
        return np.maximum(v, v.dtype.type(eps))

    @staticmethod
    def backward(ctx, g):
        return g


def gaussian_nll_loss(
    input: Any,
    target: Any,
    var: Any,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    """Gaussian negative log-likelihood (``F.gaussian_nll_loss``).

    ``0.5 * (log(max(var, eps)) + (input - target)**2 / max(var, eps))``, plus
    ``0.5 * log(2 pi)`` when ``full``. The clamp does not stop the gradient (PyTorch's).

    Parameters
    ----------
    input : Tensor
        Expected values (means).
    target : Tensor
        Samples: ``input``'s shape, or one broadcasting to it.
    var : Tensor or float
        Variances, all >= 0: ``input``'s shape, ``input``'s shape without its last axis
        (one variance per sample, homoscedastic), the same number of axes with one of them
        of length 1, or a float.
    full : bool
        Include the constant term.
    eps : float
        Lower clamp of ``var`` (> 0).
    """
    fn = "gaussian_nll_loss"
    check_reduction(fn, reduction)
    e = _number(fn, eps, "eps")
    if not e > 0:
        msg = f"{fn}: `eps` must be > 0, got {eps!r}"
        raise ValueError(msg)
    x = as_tensor(input)
    dtype = same_float_dtype(fn, input=x._data)
    t = _cast(as_tensor(target), dtype, fn, "target")
    try:
        t_ok = np.broadcast_shapes(t.shape, x.shape) == x.shape
    except ValueError:
        t_ok = False
    if not t_ok:
        msg = (
            f"{fn}: `target` has shape {shape_str(t.shape)}, which does not broadcast to "
            f"`input` shape {shape_str(x.shape)}"
        )
        raise ValueError(msg)
    if isinstance(var, int | float) and not isinstance(var, bool):
        if var < 0:
            msg = f"{fn}: `var` must be >= 0 everywhere, got {var}"
            raise ValueError(msg)
        v = Tensor(np.full(x.shape, var, dtype=dtype))
    else:
        v = _cast(as_tensor(var), dtype, fn, "var")
        if v._data.size and bool((v._data < 0).any()):
            msg = f"{fn}: `var` must be >= 0 everywhere, got a minimum of {v._data.min()}"
            raise ValueError(msg)
    if v.shape != x.shape:
        differing = [b for a, b in zip(x.shape, v.shape, strict=False) if a != b]
        if x.shape[:-1] == v.shape:
            v = v.unsqueeze(-1)
        elif not (v.ndim == x.ndim and sum(differing) == 1):
            msg = (
                f"{fn}: `var` has shape {shape_str(v.shape)}, which fits neither `input` shape "
                f"{shape_str(x.shape)}, that shape without its last axis, nor that shape with "
                "one axis of length 1"
            )
            raise ValueError(msg)
    vc = _ClampValue.apply(v, eps=e)
    d = x - t
    loss = 0.5 * (log(vc) + d * d / vc)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# -- Poisson NLL -----------------------------------------------------------------------
def poisson_nll_loss(
    input: Any,
    target: Any,
    log_input: bool = True,
    full: bool = False,
    eps: float = 1e-8,
    reduction: str = "mean",
) -> Tensor:
    """Poisson negative log-likelihood (``F.poisson_nll_loss``).

    ``exp(input) - target * input`` when ``log_input`` (input is the log-rate), else
    ``input - target * log(input + eps)``. ``full`` adds Stirling's approximation of
    ``log(target!)``, ``target log(target) - target + 0.5 log(2 pi target)``, where
    ``target > 1``. Same shapes.
    """
    fn = "poisson_nll_loss"
    check_reduction(fn, reduction)
    e = _number(fn, eps, "eps")
    x, t = _pair(fn, input, target)
    loss = exp(x) - t * x if log_input else x - t * log(x + e)
    if full:
        big = Tensor(t._data > 1)
        safe = where(big, t, 2.0)  # keep the unused branch finite (and its gradient zero)
        stirling = safe * log(safe) - safe + 0.5 * log(2 * math.pi * safe)
        loss = loss + where(big, stirling, 0.0)
    return _reduce(loss, reduction)


# -- ranking and embedding losses ------------------------------------------------------
def _labels(fn: str, target: Any, dtype: np.dtype) -> Tensor:
    y = as_tensor(target)
    if y.requires_grad:
        msg = f"{fn}: `target` (the +1/-1 labels) does not support gradients; pass target.detach()"
        raise ValueError(msg)
    return Tensor(y._data.astype(dtype))


def margin_ranking_loss(
    input1: Any, input2: Any, target: Any, margin: float = 0.0, reduction: str = "mean"
) -> Tensor:
    """Margin ranking (``F.margin_ranking_loss``): ``max(0, -target * (input1 - input2) +
    margin)`` with ``target`` +1 (input1 should rank higher) or -1. The three tensors have
    the same number of axes and broadcast together."""
    fn = "margin_ranking_loss"
    check_reduction(fn, reduction)
    m = _number(fn, margin, "margin")
    a, b = as_tensor(input1), as_tensor(input2)
    dtype = same_float_dtype(fn, input1=a._data, input2=b._data)
    y = _labels(fn, target, dtype)
    shapes = (
        f"input1 {shape_str(a.shape)}, input2 {shape_str(b.shape)}, target {shape_str(y.shape)}"
    )
    if not a.ndim == b.ndim == y.ndim:
        msg = f"{fn}: the inputs and target must have the same number of axes, got {shapes}"
        raise ValueError(msg)
    try:
        np.broadcast_shapes(a.shape, b.shape, y.shape)
    except ValueError:
        msg = f"{fn}: the shapes do not broadcast together: {shapes}"
        raise ValueError(msg) from None
    return _reduce(clamp_min(-y * (a - b) + m, 0.0), reduction)


def cosine_embedding_loss(
    input1: Any, input2: Any, target: Any, margin: float = 0.0, reduction: str = "mean"
) -> Tensor:
    """Cosine embedding (``F.cosine_embedding_loss``): ``1 - cos(x1, x2)`` where target is 1,
    ``max(0, cos(x1, x2) - margin)`` where it is -1 (0 for other labels).

    ``input1``/``input2`` are ``(N, D)`` with ``target`` ``(N,)``, or ``(D,)`` with a 0-d
    target; ``cos = x1.x2 / sqrt((|x1|^2 + 1e-12) (|x2|^2 + 1e-12))`` as PyTorch.
    """
    fn = "cosine_embedding_loss"
    check_reduction(fn, reduction)
    m = _number(fn, margin, "margin")
    a, b = as_tensor(input1), as_tensor(input2)
    dtype = same_float_dtype(fn, input1=a._data, input2=b._data)
    y = _labels(fn, target, dtype)
    if y.ndim > 1:
        msg = f"{fn}: `target` must be 0-d or 1-d (one label per pair), got shape {shape_str(y.shape)}"
        raise ValueError(msg)
    want = y.ndim + 1
    if a.ndim != want or b.ndim != want:
        msg = (
            f"{fn}: a {y.ndim}-d target needs {want}-d inputs, got input1 {shape_str(a.shape)} "
            f"and input2 {shape_str(b.shape)}"
        )
        raise ValueError(msg)
    if a.shape != b.shape or (y.ndim == 1 and y.shape[0] != a.shape[0]):
        msg = (
            f"{fn}: shapes do not match: input1 {shape_str(a.shape)}, input2 "
            f"{shape_str(b.shape)}, target {shape_str(y.shape)}"
        )
        raise ValueError(msg)
    axis = y.ndim
    dot = (a * b).sum(axis)
    mag1 = (a * a).sum(axis) + 1e-12
    mag2 = (b * b).sum(axis) + 1e-12
    cos = dot / (mag1 * mag2).sqrt()
    pos = Tensor(y._data == 1)
    neg = Tensor(y._data == -1)
    loss = where(pos, 1 - cos, 0.0) + where(neg, clamp_min(cos - m, 0.0), 0.0)
    return _reduce(loss, reduction)


def _pairwise_distance(x1: Tensor, x2: Tensor, p: float, eps: float) -> Tensor:
    """``torch.pairwise_distance``: the p-norm of ``x1 - x2 + eps`` over the last axis."""
    return norm(x1 - x2 + eps, p, -1)


def triplet_margin_loss(
    anchor: Any,
    positive: Any,
    negative: Any,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: str = "mean",
) -> Tensor:
    """Triplet margin (``F.triplet_margin_loss``):
    ``max(0, margin + d(a, p) - d(a, n))`` with ``d(x, y) = ||x - y + eps||_p`` over the
    last axis; ``swap`` uses ``min(d(a, n), d(p, n))`` for the negative distance. The three
    tensors have the same number of axes (``(N, D)`` or ``(D,)``); ``margin > 0``, ``p > 0``.
    """
    fn = "triplet_margin_loss"
    check_reduction(fn, reduction)
    m = _number(fn, margin, "margin")
    if not m > 0:
        msg = f"{fn}: `margin` must be > 0, got {margin!r}"
        raise ValueError(msg)
    pn = _number(fn, p, "p")
    if not pn > 0:
        msg = f"{fn}: `p` must be > 0, got {p!r}"
        raise ValueError(msg)
    e = _number(fn, eps, "eps")
    a, po, ne = as_tensor(anchor), as_tensor(positive), as_tensor(negative)
    same_float_dtype(fn, anchor=a._data, positive=po._data, negative=ne._data)
    shapes = (
        f"anchor {shape_str(a.shape)}, positive {shape_str(po.shape)}, negative "
        f"{shape_str(ne.shape)}"
    )
    if not a.ndim == po.ndim == ne.ndim or a.ndim not in (1, 2):
        msg = f"{fn}: anchor, positive and negative must all be 1-d or all 2-d, got {shapes}"
        raise ValueError(msg)
    try:
        np.broadcast_shapes(a.shape, po.shape, ne.shape)
    except ValueError:
        msg = f"{fn}: the shapes do not broadcast together: {shapes}"
        raise ValueError(msg) from None
    d_pos = _pairwise_distance(a, po, pn, e)
    d_neg = _pairwise_distance(a, ne, pn, e)
    if swap:
        d_neg = minimum(d_neg, _pairwise_distance(po, ne, pn, e))
    return _reduce(clamp_min(m + d_pos - d_neg, 0.0), reduction)
