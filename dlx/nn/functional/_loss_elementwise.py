"""Elementwise losses: mse, l1, huber, binary cross-entropy (with logits or on probabilities).

``input`` and ``target`` have the same shape (no broadcasting, unlike PyTorch's warning
path); ``target`` may require grad. ``"mean"`` divides by the number of elements.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx._native import _core
from dlx._ops._common import composite_backward, is_array, value
from dlx._ops.activation import softplus
from dlx._ops.elementwise import Where, as_tensor, maximum
from dlx._ops.unary import log
from dlx._validation import same_float_dtype, shape_str
from dlx.autograd.function import Function, c_contiguous
from dlx.nn.functional._loss import check_reduction, grad_scale
from dlx.tensor import Tensor

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "huber_loss",
    "l1_loss",
    "mse_loss",
]


def _pair(fn: str, input: Any, target: Any) -> tuple[Tensor, Tensor]:
    """Input and target of one shape and float dtype (a constant target is cast)."""
    x, t = as_tensor(input), as_tensor(target)
    dtype = same_float_dtype(fn, input=x._data)
    if t.shape != x.shape:
        msg = (
            f"{fn}: `target` has shape {shape_str(t.shape)} but `input` has shape "
            f"{shape_str(x.shape)}; they must match"
        )
        raise ValueError(msg)
    if t.dtype != dtype:
        if t.requires_grad:
            msg = f"{fn}: `target` has dtype {t.dtype} but `input` has dtype {dtype}"
            raise TypeError(msg)
        t = Tensor(t._data.astype(dtype))
    return x, t


def _weighted(loss: Tensor, weight: Any, shape: tuple[int, ...], reduction: str, fn: str) -> Tensor:
    """``loss`` (per element) times a broadcastable ``weight``, then reduced."""
    w = as_tensor(weight)
    try:
        ok = np.broadcast_shapes(w.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        msg = f"{fn}: `weight` of shape {shape_str(w.shape)} cannot be broadcast to `input` shape {shape_str(shape)}"
        raise ValueError(msg)
    if w.dtype != loss.dtype and not w.requires_grad:
        w = Tensor(w._data.astype(loss.dtype))
    out = loss * w
    if reduction == "sum":
        return out.sum()
    if reduction == "mean":
        return out.mean()
    return out


# -- mse, l1, huber (kernels) ---------------------------------------------------------
def _reduce(per: Any, reduction: str) -> Any:
    if reduction == "sum":
        return per.sum()
    if reduction == "mean":
        return per.mean()
    return per


class Pointwise(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, x, t, kind, delta, reduction):
        ctx.save_for_backward(x, t)
        ctx.args = (kind, delta, reduction)
        x, t = c_contiguous(x), c_contiguous(t)
        if kind == "huber":
            return _core.huber_loss_forward(x, t, delta, reduction)
        return getattr(_core, f"{kind}_loss_forward")(x, t, reduction)

    @staticmethod
    def composite(ctx: Any, x: Any, t: Any) -> Any:
        kind, delta, reduction = ctx.args
        d = x - t
        if kind == "mse":
            per = d * d
        elif kind == "l1":
            per = d.abs()
        else:
            small = np.abs(value(d)) < delta
            per = Where.apply(
                d * d * 0.5, (d.abs() - 0.5 * delta) * delta, cond=small, dtype=d.dtype
            )
        return _reduce(per, reduction)

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved_tensors
        if not is_array(g):
            return composite_backward(ctx, lambda a, b: Pointwise.composite(ctx, a, b), (x, t), g)
        kind, delta, reduction = ctx.args
        nx, nt = ctx.needs_input_grad[:2]
        x, t, g = c_contiguous(x), c_contiguous(t), c_contiguous(g)
        if kind == "huber":
            gi = _core.huber_loss_backward(g, x, t, delta, reduction)
        else:
            gi = getattr(_core, f"{kind}_loss_backward")(g, x, t, reduction)
        return (gi if nx else None), (-gi if nt else None)


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Squared error ``(input - target)**2``, reduced (``F.mse_loss``)."""
    check_reduction("mse_loss", reduction)
    x, t = _pair("mse_loss", input, target)
    return Pointwise.apply(x, t, kind="mse", delta=1.0, reduction=reduction)


def l1_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Absolute error ``|input - target|``, reduced (``F.l1_loss``; gradient 0 at 0)."""
    check_reduction("l1_loss", reduction)
    x, t = _pair("l1_loss", input, target)
    return Pointwise.apply(x, t, kind="l1", delta=1.0, reduction=reduction)


def huber_loss(input: Any, target: Any, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """Huber loss (``F.huber_loss``): ``d**2 / 2`` for ``|d| < delta``, else
    ``delta * (|d| - delta / 2)``, with ``d = input - target`` and ``delta > 0``."""
    check_reduction("huber_loss", reduction)
    d = float(delta)
    if not d > 0:
        msg = f"huber_loss: `delta` must be positive, got {delta}"
        raise ValueError(msg)
    x, t = _pair("huber_loss", input, target)
    return Pointwise.apply(x, t, kind="huber", delta=d, reduction=reduction)


# -- binary cross-entropy -------------------------------------------------------------
class BCEWithLogits(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, x, t, pos_weight, reduction):
        ctx.save_for_backward(x, t, pos_weight)
        ctx.reduction = reduction
        x, t = c_contiguous(x), c_contiguous(t)
        pw = None if pos_weight is None else c_contiguous(pos_weight)
        return _core.bce_with_logits_forward(x, t, pw, reduction)

    @staticmethod
    def composite(ctx: Any, x: Any, t: Any, pw: Any) -> Any:
        # (1 - t) x + (1 + (p - 1) t) softplus(-x)
        sp = softplus(-x)
        weight = 1 if pw is None else 1 + (pw - 1) * t
        return _reduce((1 - t) * x + weight * sp, ctx.reduction)

    @staticmethod
    def backward(ctx, g):
        x, t, pw = ctx.saved_tensors
        if not is_array(g):
            return composite_backward(
                ctx, lambda a, b, c: BCEWithLogits.composite(ctx, a, b, c), (x, t, pw), g
            )
        x, t = c_contiguous(x), c_contiguous(t)
        pw = None if pw is None else c_contiguous(pw)
        nx, nt, np_ = (*ctx.needs_input_grad, False, False)[:3]
        g = c_contiguous(g)
        gx = gt = gp = None
        if nx:
            gx = _core.bce_with_logits_backward(g, x, t, pw, ctx.reduction)
        if nt or np_:
            s = grad_scale(g, ctx.reduction, x.size)
            sp = np.logaddexp(0.0, -x)  # softplus(-x) = -log sigmoid(x)
            if nt:  # d/dt [(1 - t) x + (1 + (p - 1) t) sp] = -x + (p - 1) sp
                p = 1.0 if pw is None else pw
                gt = (s * (-x + (p - 1.0) * sp)).astype(x.dtype)
            if np_:  # d/dp = t sp, summed over everything but pos_weight's axis
                d = np.asarray(s * t * sp, dtype=np.float64)
                if pw.shape[0] == 1:
                    gp = np.asarray([d.sum()], dtype=x.dtype)
                else:
                    gp = d.reshape(-1, pw.shape[0]).sum(axis=0).astype(x.dtype)
        return gx, gt, gp


def binary_cross_entropy_with_logits(
    input: Any,
    target: Any,
    weight: Any = None,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable step (``F.binary_cross_entropy_with_logits``).

    ``loss = -[pos_weight * t * log sigmoid(x) + (1 - t) * log(1 - sigmoid(x))]``.

    Parameters
    ----------
    input : Tensor
        Logits, any shape.
    target : Tensor
        Same shape, values usually in [0, 1]; may require grad.
    weight : Tensor, optional
        Per-element rescaling, broadcastable to ``input`` (applied before the reduction).
    reduction : {"mean", "sum", "none"}
    pos_weight : Tensor, optional
        Weight of positive examples: one value ``(1,)`` or one per class along the last
        axis ``(C,)``; differentiable.
    """
    fn = "binary_cross_entropy_with_logits"
    check_reduction(fn, reduction)
    x, t = _pair(fn, input, target)
    pw = None
    if pos_weight is not None:
        pw = as_tensor(pos_weight)
        last = x.shape[-1] if x.ndim else 1
        if pw.ndim > 1 or (pw.ndim == 1 and pw.shape[0] not in (1, last)):
            msg = (
                f"{fn}: `pos_weight` must have shape (1,) or ({last},) (one per class along the "
                f"last axis of `input`), got {shape_str(pw.shape)}"
            )
            raise ValueError(msg)
        if pw.ndim == 0:
            pw = pw.reshape(1)
        if pw.dtype != x.dtype and not pw.requires_grad:
            pw = Tensor(pw._data.astype(x.dtype))
        same_float_dtype(fn, input=x._data, pos_weight=pw._data)
    if weight is None:
        return BCEWithLogits.apply(x, t, pw, reduction=reduction)
    loss = BCEWithLogits.apply(x, t, pw, reduction="none")
    return _weighted(loss, weight, x.shape, reduction, fn)


class BCE(Function):
    double_backward = True

    @staticmethod
    def composite(ctx: Any, x: Any, t: Any) -> Any:
        lx = maximum(log(x), -100.0)
        l1x = maximum(log(1 - x), -100.0)
        return _reduce(-(t * lx + (1 - t) * l1x), ctx.reduction)

    @staticmethod
    def forward(ctx, x, t, reduction):
        with np.errstate(divide="ignore"):
            lx = np.maximum(np.log(x), -100.0)  # PyTorch clamps the logs at -100
            l1x = np.maximum(np.log1p(-x), -100.0)
        per = -(t * lx + (1.0 - t) * l1x)
        ctx.save_for_backward(x, t)
        ctx.logs = (lx, l1x)
        ctx.reduction = reduction
        if reduction == "none":
            return per.astype(x.dtype)
        total = per.sum(dtype=np.float64)
        if reduction == "mean":
            with np.errstate(divide="ignore", invalid="ignore"):
                total = total / np.float64(x.size)
        return np.asarray(total, dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved_tensors
        if not is_array(g):
            return composite_backward(ctx, lambda a, b: BCE.composite(ctx, a, b), (x, t), g)
        lx, l1x = ctx.logs
        nx, nt = ctx.needs_input_grad[:2]
        s = grad_scale(g, ctx.reduction, x.size)
        gx = gt = None
        if nx:  # (x - t) / max(x (1 - x), 1e-12), PyTorch's guard at 0 and 1
            gx = (s * (x - t) / np.maximum(x * (1.0 - x), 1e-12)).astype(x.dtype)
        if nt:
            gt = (s * (l1x - lx)).astype(x.dtype)
        return gx, gt


def binary_cross_entropy(
    input: Any, target: Any, weight: Any = None, reduction: str = "mean"
) -> Tensor:
    """Binary cross-entropy on probabilities ``input`` in [0, 1] (``F.binary_cross_entropy``).

    ``loss = -[t * log(x) + (1 - t) * log(1 - x)]`` with each log clamped to >= -100 (as
    PyTorch), so saturated probabilities give a finite loss. Prefer
    :func:`binary_cross_entropy_with_logits`, which is stable for any logit.
    """
    fn = "binary_cross_entropy"
    check_reduction(fn, reduction)
    x, t = _pair(fn, input, target)
    if x._data.size and not (x._data.min() >= 0 and x._data.max() <= 1):
        msg = (
            f"{fn}: `input` must hold probabilities in [0, 1], got values in "
            f"[{x._data.min()}, {x._data.max()}] (use binary_cross_entropy_with_logits for logits)"
        )
        raise ValueError(msg)
    if weight is None:
        return BCE.apply(x, t, reduction=reduction)
    return _weighted(BCE.apply(x, t, reduction="none"), weight, x.shape, reduction, fn)
