"""``layer_norm``, ``rms_norm`` and ``group_norm`` over the fused kernels of ``dlx._core``."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from dlx._native import _core
from dlx._ops._common import composite_backward, is_array
from dlx._ops.elementwise import as_tensor
from dlx._validation import as_int, same_float_dtype, shape_str
from dlx.autograd.function import Function, c_contiguous
from dlx.tensor import Tensor


def _arr(t: Any) -> Any:
    return None if t is None else c_contiguous(t)


class LayerNorm(Function):
    """Layer norm over the last ``nd`` axes; ``center=False`` is RMS norm (no bias)."""

    double_backward = True

    @staticmethod
    def forward(ctx, x, weight, bias, nd, eps, center):
        ctx.save_for_backward(x, weight)
        y, mean, rstd = _core.layer_norm_forward(
            c_contiguous(x), nd, _arr(weight), _arr(bias), eps, center
        )
        ctx.mean, ctx.rstd, ctx.nd, ctx.eps, ctx.center = mean, rstd, nd, eps, center
        return y

    @staticmethod
    def composite(ctx: Any, x: Any, w: Any) -> Any:
        """The normalisation in dlx ops (biased variance, eps inside the root), no bias."""
        axes = tuple(range(x.ndim - ctx.nd, x.ndim))
        d = x - x.mean(axes, keepdim=True) if ctx.center else x
        y = d * ((d * d).mean(axes, keepdim=True) + ctx.eps) ** -0.5
        return y if w is None else y * w

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        if not is_array(g):
            gx, gw, _ = composite_backward(
                ctx, lambda a, c, _: LayerNorm.composite(ctx, a, c), (x, w, None), g
            )
            lead = tuple(range(g.ndim - ctx.nd))
            return gx, gw, (g.sum(lead) if need[2] else None)
        return _core.layer_norm_backward(
            c_contiguous(g),
            c_contiguous(x),
            ctx.nd,
            _arr(w),
            ctx.mean,
            ctx.rstd,
            ctx.center,
            need[0],
            need[1],
            need[2],
        )


class GroupNorm(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, x, weight, bias, groups, eps):
        ctx.save_for_backward(x, weight)
        y, mean, rstd = _core.group_norm_forward(
            c_contiguous(x), groups, _arr(weight), _arr(bias), eps
        )
        ctx.mean, ctx.rstd, ctx.groups, ctx.eps = mean, rstd, groups, eps
        return y

    @staticmethod
    def composite(ctx: Any, x: Any, w: Any) -> Any:
        """Group statistics on ``x`` viewed as (N, groups, -1), then the per-channel scale."""
        shape = tuple(x.shape)
        v = x.reshape(shape[0], ctx.groups, -1)
        d = v - v.mean(2, keepdim=True)
        y = (d * ((d * d).mean(2, keepdim=True) + ctx.eps) ** -0.5).reshape(shape)
        return y if w is None else y * w.reshape((1, shape[1]) + (1,) * (len(shape) - 2))

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        if not is_array(g):
            gx, gw, _ = composite_backward(
                ctx, lambda a, c, _: GroupNorm.composite(ctx, a, c), (x, w, None), g
            )
            return gx, gw, (g.sum((0, *range(2, g.ndim))) if need[2] else None)
        return _core.group_norm_backward(
            c_contiguous(g),
            c_contiguous(x),
            ctx.groups,
            _arr(w),
            ctx.mean,
            ctx.rstd,
            need[0],
            need[1],
            need[2],
        )


def normalized_shape_of(value: Any, fn: str) -> tuple[int, ...]:
    """``normalized_shape`` as a non-empty tuple of non-negative ints (an int means one axis)."""
    if isinstance(value, bool):
        msg = f"{fn}: `normalized_shape` must be an int or a sequence of ints, got bool"
        raise TypeError(msg)
    if isinstance(value, int | np.integer):
        shape: tuple[int, ...] = (int(value),)
    elif isinstance(value, Sequence) or hasattr(value, "__iter__"):
        shape = tuple(as_int(v, "normalized_shape") for v in value)
    else:
        msg = (
            f"{fn}: `normalized_shape` must be an int or a sequence of ints, "
            f"got {type(value).__name__}"
        )
        raise TypeError(msg)
    if not shape or any(s < 0 for s in shape):
        msg = f"{fn}: `normalized_shape` must be a non-empty shape of sizes >= 0, got {shape}"
        raise ValueError(msg)
    return shape


def _eps(eps: Any, fn: str) -> float:
    if isinstance(eps, bool) or not (
        isinstance(eps, int | float) and eps >= 0 and math.isfinite(eps)
    ):
        msg = f"{fn}: `eps` must be a finite number >= 0, got {eps!r}"
        raise ValueError(msg)
    return float(eps)


def _affine(fn: str, x: Tensor, shape: tuple[int, ...], **params: Any) -> tuple[Tensor | None, ...]:
    """The optional affine parameters as tensors of ``shape``, with ``x``'s float dtype."""
    ts = {k: None if v is None else as_tensor(v) for k, v in params.items()}
    same_float_dtype(
        fn, input=x._data, **{k: None if t is None else t._data for k, t in ts.items()}
    )
    for name, t in ts.items():
        if t is not None and tuple(t.shape) != shape:
            msg = f"{fn}: `{name}` must have shape {shape_str(shape)}, got {shape_str(t.shape)}"
            raise ValueError(msg)
    return tuple(ts.values())


def _check_trailing(fn: str, x: Tensor, shape: tuple[int, ...]) -> None:
    if tuple(x.shape[x.ndim - len(shape) :]) != shape or x.ndim < len(shape):
        msg = (
            f"{fn}: given normalized_shape={list(shape)}, expected input with shape "
            f"[*, {', '.join(map(str, shape))}], but got input of size {list(x.shape)}"
        )
        raise ValueError(msg)


def layer_norm(
    input: Any,
    normalized_shape: Any,
    weight: Any = None,
    bias: Any = None,
    eps: float = 1e-5,
) -> Tensor:
    """Layer normalisation over the trailing ``normalized_shape`` axes (``F.layer_norm``).

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with the mean and the biased
    variance of each sample over those axes; ``weight`` and ``bias`` (optional) have shape
    ``normalized_shape``.
    """
    fn = "layer_norm"
    x = as_tensor(input)
    shape = normalized_shape_of(normalized_shape, fn)
    _check_trailing(fn, x, shape)
    w, b = _affine(fn, x, shape, weight=weight, bias=bias)
    return LayerNorm.apply(x, w, b, nd=len(shape), eps=_eps(eps, fn), center=True)


def rms_norm(
    input: Any, normalized_shape: Any, weight: Any = None, eps: float | None = None
) -> Tensor:
    """Root-mean-square normalisation over the trailing ``normalized_shape`` axes
    (``F.rms_norm``): ``y = x / sqrt(mean(x**2) + eps) * weight``. ``eps=None`` means the
    machine epsilon of the input's dtype, as in PyTorch."""
    fn = "rms_norm"
    x = as_tensor(input)
    shape = normalized_shape_of(normalized_shape, fn)
    _check_trailing(fn, x, shape)
    (w,) = _affine(fn, x, shape, weight=weight)
    e = float(np.finfo(x.dtype).eps) if eps is None else _eps(eps, fn)
    return LayerNorm.apply(x, w, None, nd=len(shape), eps=e, center=False)


def group_norm(
    input: Any,
    num_groups: int,
    weight: Any = None,
    bias: Any = None,
    eps: float = 1e-5,
) -> Tensor:
    """Group normalisation of ``(N, C, *)`` input (``F.group_norm``): the channels are split
    into ``num_groups`` groups, each normalised over its channels and spatial positions per
    sample (biased variance), then scaled by ``weight`` and shifted by ``bias`` (shape (C,))."""
    fn = "group_norm"
    x = as_tensor(input)
    if x.ndim < 2:
        msg = f"{fn}: `input` must be at least 2-D (N, C, *), got shape {shape_str(x.shape)}"
        raise ValueError(msg)
    groups = as_int(num_groups, "num_groups")
    c = x.shape[1]
    if groups < 1 or c % groups != 0:
        msg = (
            f"{fn}: `num_groups` must be a positive divisor of the number of channels "
            f"({c}), got {groups}"
        )
        raise ValueError(msg)
    w, b = _affine(fn, x, (c,), weight=weight, bias=bias)
    return GroupNorm.apply(x, w, b, groups=groups, eps=_eps(eps, fn))
