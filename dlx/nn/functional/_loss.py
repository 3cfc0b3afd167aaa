"""Classification losses: ``cross_entropy`` (fused log-softmax kernel) and ``nll_loss``.

Both take ``input`` of shape ``(N, C)``, ``(C,)`` (one unbatched sample) or
``(N, C, d1, ...)`` (the class axis is moved last and the extra axes join the batch), and
``target`` of int class indices (shape ``input.shape`` without the class axis) or, for
``cross_entropy`` only, float class probabilities of ``input``'s shape. Reductions follow
PyTorch: ``"mean"`` divides by the summed weight of the kept (non-ignored) targets (by the
number of samples for probability targets); a mean over nothing is NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx._native import _core
from dlx._ops._common import composite_backward, is_array, value
from dlx._ops.activation import log_softmax
from dlx._ops.elementwise import as_tensor
from dlx._validation import same_float_dtype, shape_str
from dlx.autograd.function import Function, c_contiguous
from dlx.tensor import Tensor

__all__ = ["check_reduction", "cross_entropy", "grad_scale", "nll_loss"]

_REDUCTIONS = ("mean", "sum", "none")


def check_reduction(fn: str, reduction: object) -> str:
    """``reduction`` when it is 'mean', 'sum' or 'none'; ValueError naming ``fn`` else."""
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        msg = f"{fn}: `reduction` must be 'mean', 'sum' or 'none', got {reduction!r}"
        raise ValueError(msg)
    return reduction


def grad_scale(g: np.ndarray, reduction: str, denominator: float) -> Any:
    """Factor the loss gradient contributes per sample: ``g`` (none), ``g`` or ``g / den``."""
    if reduction == "none":
        return g
    s = float(g)
    if reduction == "mean":
        with np.errstate(divide="ignore", invalid="ignore"):
            s = float(np.float64(s) / np.float64(denominator))
    return s


def _class_weight(fn: str, weight: Any, c: int, dtype: np.dtype) -> np.ndarray | None:
    """The class-weight array (C,) in ``dtype``, or None; refuses weights needing grad."""
    if weight is None:
        return None
    w = as_tensor(weight)
    if w.requires_grad:
        msg = f"{fn}: `weight` does not support gradients; pass weight.detach()"
        raise ValueError(msg)
    if w.shape != (c,):
        msg = f"{fn}: `weight` must have shape ({c},) (one per class), got {shape_str(w.shape)}"
        raise ValueError(msg)
    return np.ascontiguousarray(w._data, dtype=dtype)


def _class_targets(fn: str, t: np.ndarray, c: int, ignore_index: int) -> np.ndarray:
    """Integer targets as int64, checked to lie in [0, C) or equal ``ignore_index``."""
    if t.dtype.kind not in "iu":
        msg = f"{fn}: class-index `target` must have an integer dtype, got {t.dtype}"
        raise TypeError(msg)
    t = np.ascontiguousarray(t, dtype=np.int64)
    bad = (t != ignore_index) & ((t < 0) | (t >= c))
    if bad.any():
        v = int(t[bad][0])
        msg = f"{fn}: `target` contains class {v}, outside [0, {c}) and not ignore_index={ignore_index}"
        raise ValueError(msg)
    return t


def _to_rows(x: Tensor, fn: str) -> tuple[Tensor, tuple[int, ...]]:
    """``x`` (C,), (N, C) or (N, C, d...) as rows (M, C), and the per-sample shape."""
    if x.ndim == 0:
        msg = (
            f"{fn}: `input` must have a class axis ((C,), (N, C) or (N, C, d1, ...)), got shape ()"
        )
        raise ValueError(msg)
    if x.ndim == 1:
        return x.reshape(1, x.shape[0]), ()
    if x.ndim == 2:
        return x, (x.shape[0],)
    lead = (x.shape[0], *x.shape[2:])
    perm = (0, *range(2, x.ndim), 1)
    return x.permute(*perm).reshape(-1, x.shape[1]), lead


def _check_target_shape(
    fn: str,
    t_shape: tuple[int, ...],
    x_shape: tuple[int, ...],
    lead: tuple[int, ...],
    probs_ok: bool,
) -> None:
    if t_shape == lead:
        return
    if len(x_shape) == 2 and len(t_shape) == 1:
        msg = (
            f"{fn}: `target` has shape {shape_str(t_shape)} but `input` has batch size {x_shape[0]}"
        )
    else:
        alt = f" or {shape_str(x_shape)} (probabilities)" if probs_ok else ""
        msg = (
            f"{fn}: `target` must have shape {shape_str(lead)} (class indices){alt} for "
            f"`input` of shape {shape_str(x_shape)}, got {shape_str(t_shape)}"
        )
    raise ValueError(msg)


def _prepare(
    fn: str, input: Any, target: Any, weight: Any, ignore_index: Any, probs_ok: bool
) -> tuple[Tensor, Tensor, np.ndarray | None, tuple[int, ...], bool]:
    """Shared validation: rows (M, C), target (M,) or (M, C), weight, sample shape, probs?"""
    x, t = as_tensor(input), as_tensor(target)
    dtype = same_float_dtype(fn, input=x._data)
    if isinstance(ignore_index, bool) or not isinstance(ignore_index, int | np.integer):
        msg = f"{fn}: `ignore_index` must be an int, got {ignore_index!r}"
        raise TypeError(msg)
    rows, lead = _to_rows(x, fn)
    c = rows.shape[1]
    probs = probs_ok and t.dtype.kind == "f"
    if probs:
        if t.shape != x.shape:
            if t.shape == lead:
                msg = f"{fn}: class-index `target` must have an integer dtype, got {t.dtype}"
                raise TypeError(msg)
            _check_target_shape(fn, t.shape, x.shape, lead, probs_ok)
        if t.dtype != dtype:
            if t.requires_grad:
                msg = f"{fn}: `target` has dtype {t.dtype} but `input` has dtype {dtype}"
                raise TypeError(msg)
            t = Tensor(t._data.astype(dtype))
        t_rows, _ = _to_rows(t, fn)
    else:
        if t.dtype.kind not in "iu":
            msg = f"{fn}: class-index `target` must have an integer dtype, got {t.dtype}"
            raise TypeError(msg)
        _check_target_shape(fn, t.shape, x.shape, lead, probs_ok)
        t_rows = Tensor(_class_targets(fn, t._data.reshape(-1), c, int(ignore_index)))
    return rows, t_rows, _class_weight(fn, weight, c, dtype), lead, probs


def _class_matrix(
    target: np.ndarray, c: int, weight: np.ndarray | None, ignore_index: int, eps: float
) -> tuple[np.ndarray, float]:
    """Per-sample, per-class coefficients Q of ``-sum_j Q_ij lp_ij`` for class-index
    targets (weights, label smoothing, ignored rows zero) and the mean's denominator."""
    m = target.shape[0]
    keep = target != ignore_index
    safe = np.where(keep, target, 0)
    w = np.ones(c) if weight is None else weight.astype(np.float64)
    q = np.zeros((m, c))
    if c:
        q[np.arange(m), safe] = 1.0 - eps
        q += eps / c
        q *= w[None, :]
        q[~keep] = 0.0
    den = float(np.where(keep, w[safe], 0.0).sum()) if c else 0.0
    return q, den


def _reduce_rows(per: Any, reduction: str, den: float) -> Any:
    if reduction == "none":
        return per
    total = per.sum()
    return total / den if reduction == "mean" else total


class CrossEntropy(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, logits, target, weight, ignore_index, label_smoothing, reduction):
        ctx.save_for_backward(logits, target)
        logits, target = c_contiguous(logits), c_contiguous(target)
        loss, lp = _core.cross_entropy_forward(
            logits, target, weight, ignore_index, label_smoothing, reduction
        )
        ctx.lp = lp
        ctx.args = (weight, ignore_index, label_smoothing, reduction)
        return loss

    @staticmethod
    def composite(ctx: Any, x: Any, t: Any) -> Any:
        """``-sum_j Q_ij log_softmax(x)_ij`` with Q from the targets (see ``_class_matrix``)."""
        weight, ignore_index, eps, reduction = ctx.args
        lp = log_softmax(x, 1)
        c = x.shape[1]
        if t.dtype.kind == "f":  # probabilities (differentiable)
            q = t * (1.0 - eps) + eps / c
            if weight is not None:
                q = q * weight
            den = float(x.shape[0])
        else:
            qa, den = _class_matrix(value(t), c, weight, ignore_index, eps)
            q = qa.astype(x.dtype)
        return _reduce_rows(-(q * lp).sum(1), reduction, den)

    @staticmethod
    def backward(ctx, g):
        x, target = ctx.saved_tensors
        if not is_array(g):
            return composite_backward(
                ctx, lambda a, b: CrossEntropy.composite(ctx, a, b), (x, target), g
            )
        lp, target = ctx.lp, c_contiguous(target)
        weight, ignore_index, eps, reduction = ctx.args
        nx, nt = ctx.needs_input_grad[:2]
        g = c_contiguous(g)
        gx = gt = None
        if nx:
            gx = _core.cross_entropy_backward(g, lp, target, weight, ignore_index, eps, reduction)
        if nt:  # probability targets: d loss_i / d t_ij = -(1 - eps) W_j lp_ij
            s = grad_scale(g, reduction, lp.shape[0])
            s = s[:, None] if reduction == "none" else s
            w = 1.0 if weight is None else weight
            gt = (-(1.0 - eps) * s * w * lp).astype(lp.dtype)
        return gx, gt


def cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy between the softmax of ``input`` logits and ``target`` (``F.cross_entropy``).

    Parameters
    ----------
    input : Tensor
        Logits ``(N, C)``, ``(C,)`` or ``(N, C, d1, ...)``.
    target : Tensor
        Integer class indices of shape ``(N,)`` / ``()`` / ``(N, d1, ...)``, or float class
        probabilities of ``input``'s shape (differentiable).
    weight : Tensor, optional
        Class weights ``(C,)`` (constant).
    ignore_index : int
        Class-index targets equal to it add nothing and leave the mean's denominator.
    reduction : {"mean", "sum", "none"}
        ``"none"`` returns one loss per sample, shape ``target``'s (indices).
    label_smoothing : float
        In ``[0, 1]``: the target mixes ``1 - label_smoothing`` of itself with a uniform
        distribution over the ``C`` classes.

    Returns
    -------
    Tensor
        A 0-d loss, or per-sample losses for ``reduction="none"``.
    """
    fn = "cross_entropy"
    check_reduction(fn, reduction)
    eps = float(label_smoothing)
    if not 0.0 <= eps <= 1.0:
        msg = f"{fn}: `label_smoothing` must be in [0, 1], got {label_smoothing}"
        raise ValueError(msg)
    rows, t_rows, w, lead, _ = _prepare(fn, input, target, weight, ignore_index, True)
    loss = CrossEntropy.apply(
        rows,
        t_rows,
        weight=w,
        ignore_index=int(ignore_index),
        label_smoothing=eps,
        reduction=reduction,
    )
    return loss.reshape(lead) if reduction == "none" else loss


class NLLLoss(Function):
    double_backward = True

    @staticmethod
    def composite(ctx: Any, lp: Any) -> Any:
        shape, dtype, reduction, den = ctx.args
        q, _ = _class_matrix(ctx.target, shape[1], ctx.weight, ctx.ignore_index, 0.0)
        return _reduce_rows(-(lp * q.astype(dtype)).sum(1), reduction, den)

    @staticmethod
    def forward(ctx, lp, target, weight, ignore_index, reduction):
        ctx.target, ctx.weight, ctx.ignore_index = target, weight, ignore_index
        n, c = lp.shape
        keep = target != ignore_index
        safe = np.where(keep, target, 0)
        w = np.ones(c, dtype=lp.dtype) if weight is None else weight
        wy = np.where(keep, w[safe], 0).astype(np.float64) if c > 0 else np.zeros(n)
        picked = lp[np.arange(n), safe].astype(np.float64) if c > 0 else np.zeros(n)
        per = -wy * picked
        ctx.save_for_backward(lp)
        ctx.safe, ctx.wy = safe, wy
        ctx.args = (lp.shape, lp.dtype, reduction, wy.sum())
        if reduction == "none":
            return per.astype(lp.dtype)
        total = per.sum()
        if reduction == "mean":
            with np.errstate(divide="ignore", invalid="ignore"):
                total = total / wy.sum()
        return np.asarray(total, dtype=lp.dtype)

    @staticmethod
    def backward(ctx, g):
        (lp,) = ctx.saved_tensors
        if not is_array(g):
            return composite_backward(ctx, lambda a: NLLLoss.composite(ctx, a), (lp,), g)
        safe, wy = ctx.safe, ctx.wy
        shape, dtype, reduction, den = ctx.args
        gx = np.zeros(shape, dtype=dtype)
        if shape[1] > 0:
            gx[np.arange(shape[0]), safe] = -wy * grad_scale(g, reduction, den)
        return gx


def nll_loss(
    input: Any,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of class indices under log-probabilities (``F.nll_loss``).

    ``loss_i = -weight[t_i] * input[i, t_i]``; pair it with ``log_softmax`` (together they
    are ``cross_entropy``). Shapes, ``weight``, ``ignore_index`` and ``reduction`` as in
    :func:`cross_entropy` (class-index targets only).
    """
    fn = "nll_loss"
    check_reduction(fn, reduction)
    rows, t_rows, w, lead, _ = _prepare(fn, input, target, weight, ignore_index, False)
    loss = NLLLoss.apply(
        rows, t_rows._data, weight=w, ignore_index=int(ignore_index), reduction=reduction
    )
    return loss.reshape(lead) if reduction == "none" else loss
