"""Reductions over axes: sum, mean, max/min (amax semantics), var/std, argmax/argmin.

``dim`` (alias ``axis``) is None (all axes), an int or a sequence of ints; ``keepdim``
(alias ``keepdims``) keeps reduced axes with length 1. max/min split the gradient evenly
among tied extreme elements (PyTorch's ``amax``/``amin`` and full ``max()``). Methods and
functions are the same: ``x.sum(1)`` is ``dlx.sum(x, 1)``.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from dlx import _dtype
from dlx._autograd import Function, make_tensor
from dlx._ops._common import as_tensor, value
from dlx._ops.shape import expand_to
from dlx._ops.unary import cast, sqrt
from dlx._validation import normalize_axes, pick_axis, shape_str

__all__ = ["all", "amax", "amin", "any", "argmax", "argmin", "mean", "std", "sum", "var"]


def _kept_shape(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> tuple[int, ...]:
    """``shape`` with the reduced axes set to 1 (the keepdims shape)."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _count(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> int:
    if axes is None:
        return int(np.prod(shape, dtype=np.int64))
    return int(np.prod([shape[a] for a in axes], dtype=np.int64))


class Sum(Function):
    __slots__ = ("axes", "in_shape")
    double_backward = True

    @staticmethod
    def forward(ctx, x, axes, keepdims):
        ctx.in_shape, ctx.axes = x.shape, axes
        return np.sum(x, axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        return expand_to(g.reshape(_kept_shape(ctx.in_shape, ctx.axes)), ctx.in_shape)


class Mean(Function):
    __slots__ = ("axes", "count", "in_shape")
    double_backward = True

    @staticmethod
    def forward(ctx, x, axes, keepdims):
        ctx.in_shape, ctx.axes = x.shape, axes
        ctx.count = _count(x.shape, axes)
        with np.errstate(invalid="ignore", divide="ignore"):  # empty -> nan, as PyTorch
            return np.sum(x, axis=axes, keepdims=keepdims) / x.dtype.type(ctx.count)

    @staticmethod
    def backward(ctx, g):
        gk = g.reshape(_kept_shape(ctx.in_shape, ctx.axes)) / ctx.count
        return expand_to(gk, ctx.in_shape)


class Extremum(Function):
    """amax / amin; ties share the gradient evenly."""

    __slots__ = ("axes",)

    double_backward = True

    @staticmethod
    def forward(ctx, x, axes, keepdims, fmax):
        y = (np.amax if fmax else np.amin)(x, axis=axes, keepdims=keepdims)
        ctx.save_for_backward(x, y)
        ctx.axes = axes
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = (value(v) for v in ctx.saved_tensors)
        k = _kept_shape(x.shape, ctx.axes)
        yk = y.reshape(k)
        mask = x == yk
        if np.isnan(y).any():
            mask |= np.isnan(x) & np.isnan(yk)
        count = mask.sum(axis=ctx.axes, keepdims=True).astype(value(g).dtype)
        return (mask / count).astype(value(g).dtype) * g.reshape(k)


class Var(Function):
    __slots__ = ("axes", "denom")
    double_backward = True

    @staticmethod
    def forward(ctx, x, axes, correction, keepdims):
        ctx.axes = axes
        d = x - np.mean(x, axis=axes, keepdims=True)
        ctx.denom = max(_count(x.shape, axes) - correction, 0)
        ctx.save_for_backward(x)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sum(d * d, axis=axes, keepdims=keepdims) / x.dtype.type(ctx.denom)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        d = x - Mean.apply(x, axes=ctx.axes, keepdims=True)
        gk = g.reshape(_kept_shape(x.shape, ctx.axes))
        return gk * d * (2 / ctx.denom if ctx.denom else np.inf)


def _into(out: Any, res: Any) -> Any:
    """``res``, or copied into ``out`` (an array or tensor; not differentiable) when given."""
    if out is None:
        return res
    if isinstance(out, np.ndarray):
        np.copyto(out, res._data, casting="same_kind")
        return out
    return out.copy_(res.detach())


def _keep(keepdim: Any, keepdims: Any) -> bool:
    """PyTorch's ``keepdim`` or NumPy's ``keepdims`` (which wins when given)."""
    return bool(keepdim if keepdims is None else keepdims)


def _axes(x: Any, dim: Any, axis: Any) -> tuple[int, ...] | None:
    return normalize_axes(pick_axis(axis, dim), x.ndim)


def sum(
    input: Any,
    dim: Any = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
    axis: Any = None,
    keepdims: bool | None = None,
    out: Any = None,
) -> Any:
    """Sum over ``dim`` (all axes by default); bool/int inputs sum to int64."""
    x = as_tensor(input)
    if dtype is not None:
        x = cast(x, dtype)
    keep = _keep(keepdim, keepdims)
    return _into(out, Sum.apply(x, axes=_axes(x, dim, axis), keepdims=keep))


def _floating(x: Any) -> Any:
    return x if x.dtype.kind == "f" else cast(x, _dtype.default_float)


def mean(
    input: Any,
    dim: Any = None,
    keepdim: bool = False,
    *,
    dtype: Any = None,
    axis: Any = None,
    keepdims: bool | None = None,
    out: Any = None,
) -> Any:
    """Arithmetic mean over ``dim``; integer inputs give float32."""
    x = as_tensor(input)
    x = _floating(x) if dtype is None else cast(x, dtype)
    keep = _keep(keepdim, keepdims)
    return _into(out, Mean.apply(x, axes=_axes(x, dim, axis), keepdims=keep))


def _extremum(x: Any, dim: Any, axis: Any, keepdim: bool, keepdims: Any, fmax: bool) -> Any:
    x = as_tensor(x)
    axes = _axes(x, dim, axis)
    if x._data.size == 0 and (axes is None or builtins.any(x.shape[a] == 0 for a in axes)):
        name = "max" if fmax else "min"
        msg = f"{name}: cannot reduce an empty axis of a tensor of shape {shape_str(x.shape)}"
        raise ValueError(msg)
    keep = _keep(keepdim, keepdims)
    return Extremum.apply(x, axes=axes, keepdims=keep, fmax=fmax)


def amax(
    input: Any,
    dim: Any = None,
    keepdim: bool = False,
    *,
    axis: Any = None,
    keepdims: Any = None,
    out: Any = None,
) -> Any:
    """Maximum over ``dim``; tied maxima share the gradient evenly."""
    return _into(out, _extremum(input, dim, axis, keepdim, keepdims, True))


def amin(
    input: Any,
    dim: Any = None,
    keepdim: bool = False,
    *,
    axis: Any = None,
    keepdims: Any = None,
    out: Any = None,
) -> Any:
    """Minimum over ``dim``; tied minima share the gradient evenly."""
    return _into(out, _extremum(input, dim, axis, keepdim, keepdims, False))


def var(
    input: Any,
    dim: Any = None,
    correction: int = 1,
    keepdim: bool = False,
    *,
    unbiased: bool | None = None,
    axis: Any = None,
    keepdims: bool | None = None,
    ddof: int | None = None,
    dtype: Any = None,
    out: Any = None,
) -> Any:
    """Variance over ``dim`` with ``N - correction`` in the denominator (unbiased default)."""
    x = as_tensor(input)
    x = _floating(x) if dtype is None else cast(x, dtype)
    if unbiased is not None:
        correction = 1 if unbiased else 0
    if ddof is not None:  # NumPy's spelling (np.var(t) passes it)
        correction = ddof
    keep = _keep(keepdim, keepdims)
    res = Var.apply(x, axes=_axes(x, dim, axis), correction=int(correction), keepdims=keep)
    return _into(out, res)


def std(
    input: Any,
    dim: Any = None,
    correction: int = 1,
    keepdim: bool = False,
    *,
    unbiased: bool | None = None,
    axis: Any = None,
    keepdims: bool | None = None,
    ddof: int | None = None,
    dtype: Any = None,
    out: Any = None,
) -> Any:
    """Standard deviation: ``sqrt(var(x, dim, correction))``."""
    v = var(
        input,
        dim,
        correction,
        keepdim,
        unbiased=unbiased,
        axis=axis,
        keepdims=keepdims,
        ddof=ddof,
        dtype=dtype,
    )
    return _into(out, sqrt(v))


def _arg(x: Any, dim: Any, axis: Any, keepdim: bool, keepdims: Any, fmax: bool) -> Any:
    x = as_tensor(x)
    fn = np.argmax if fmax else np.argmin
    keep = _keep(keepdim, keepdims)
    a = pick_axis(axis, dim)
    if a is None:
        out = np.asarray(fn(x._data))
        if keep:
            out = out.reshape((1,) * x.ndim)
    else:
        (ax,) = normalize_axes(a, x.ndim) or (0,)
        out = np.asarray(fn(x._data, axis=ax, keepdims=keep))
    return make_tensor(out.astype(np.int64, copy=False))


def argmax(
    input: Any,
    dim: Any = None,
    keepdim: bool = False,
    *,
    axis: Any = None,
    keepdims: Any = None,
    out: Any = None,
) -> Any:
    """Index of the (first) maximum: flat when ``dim`` is None; not differentiable."""
    return _into(out, _arg(input, dim, axis, keepdim, keepdims, True))


def argmin(
    input: Any,
    dim: Any = None,
    keepdim: bool = False,
    *,
    axis: Any = None,
    keepdims: Any = None,
    out: Any = None,
) -> Any:
    """Index of the (first) minimum: flat when ``dim`` is None; not differentiable."""
    return _into(out, _arg(input, dim, axis, keepdim, keepdims, False))


def _logical(x: Any, dim: Any, keepdim: bool, axis: Any, keepdims: Any, fn: Any) -> Any:
    x = as_tensor(x)
    axes = _axes(x, dim, axis)
    out = fn(x._data, axis=axes, keepdims=_keep(keepdim, keepdims))
    return make_tensor(np.asarray(out))


def all(
    input: Any,
    dim: Any = None,
    keepdim: bool = False,
    *,
    axis: Any = None,
    keepdims: Any = None,
    out: Any = None,
) -> Any:
    """True where every element along ``dim`` (all by default) is non-zero; a bool tensor."""
    return _into(out, _logical(input, dim, keepdim, axis, keepdims, np.all))


def any(
    input: Any,
    dim: Any = None,
    keepdim: bool = False,
    *,
    axis: Any = None,
    keepdims: Any = None,
    out: Any = None,
) -> Any:
    """True where some element along ``dim`` (all by default) is non-zero; a bool tensor."""
    return _into(out, _logical(input, dim, keepdim, axis, keepdims, np.any))
