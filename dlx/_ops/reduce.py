"""Reductions over axes: sum, mean, max/min (amax semantics), var/std, argmax/argmin.

``axis`` is None (all axes), an int or a sequence of ints; ``keepdims`` keeps reduced
axes with length 1. max/min split the gradient evenly among tied extreme elements, for
full and per-axis reductions alike (PyTorch's ``amax``/``amin`` and full ``max()``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx import _dtype
from dlx._ops.elementwise import as_tensor
from dlx._ops.unary import cast, sqrt
from dlx._validation import normalize_axes, shape_str
from dlx.autograd.function import Function
from dlx.tensor import Tensor

__all__ = ["amax", "amin", "argmax", "argmin", "mean", "std", "sum", "var"]


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
    @staticmethod
    def forward(ctx, x, axes, keepdims):
        ctx.in_shape, ctx.axes = x.shape, axes
        return np.sum(x, axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        return np.broadcast_to(g.reshape(_kept_shape(ctx.in_shape, ctx.axes)), ctx.in_shape)


class Mean(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdims):
        ctx.in_shape, ctx.axes = x.shape, axes
        ctx.count = _count(x.shape, axes)
        with np.errstate(invalid="ignore", divide="ignore"):  # empty -> nan, as PyTorch
            return np.sum(x, axis=axes, keepdims=keepdims) / ctx.count

    @staticmethod
    def backward(ctx, g):
        gk = g.reshape(_kept_shape(ctx.in_shape, ctx.axes)) / ctx.count
        return np.broadcast_to(gk, ctx.in_shape)


class Extremum(Function):
    """amax / amin; ties share the gradient evenly."""

    @staticmethod
    def forward(ctx, x, axes, keepdims, fmax):
        y = (np.amax if fmax else np.amin)(x, axis=axes, keepdims=keepdims)
        ctx.save_for_backward(x, y)
        ctx.axes = axes
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_arrays
        k = _kept_shape(x.shape, ctx.axes)
        yk = y.reshape(k)
        mask = x == yk
        if np.isnan(y).any():
            mask |= np.isnan(x) & np.isnan(yk)
        count = mask.sum(axis=ctx.axes, keepdims=True).astype(g.dtype)
        return mask * (g.reshape(k) / count)


class Var(Function):
    @staticmethod
    def forward(ctx, x, axes, correction, keepdims):
        ctx.axes = axes
        d = x - np.mean(x, axis=axes, keepdims=True)
        ctx.denom = max(_count(x.shape, axes) - correction, 0)
        ctx.save_for_backward(d)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.sum(d * d, axis=axes, keepdims=keepdims) / ctx.denom

    @staticmethod
    def backward(ctx, g):
        (d,) = ctx.saved_arrays
        gk = g.reshape(_kept_shape(d.shape, ctx.axes))
        return gk * d * (2 / ctx.denom if ctx.denom else np.inf)


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (all axes by default); bool/int inputs sum to int64."""
    x = as_tensor(x)
    return Sum.apply(x, axes=normalize_axes(axis, x.ndim), keepdims=bool(keepdims))


def _floating(x: Tensor) -> Tensor:
    return x if x.dtype.kind == "f" else cast(x, _dtype.default_float)


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Arithmetic mean over ``axis``; integer inputs give float32."""
    x = _floating(as_tensor(x))
    return Mean.apply(x, axes=normalize_axes(axis, x.ndim), keepdims=bool(keepdims))


def _extremum(x: Any, axis: Any, keepdims: bool, fmax: bool) -> Tensor:
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim)
    if x.data.size == 0 and (axes is None or any(x.shape[a] == 0 for a in axes)):
        name = "max" if fmax else "min"
        msg = f"{name}: cannot reduce an empty axis of a tensor of shape {shape_str(x.shape)}"
        raise ValueError(msg)
    return Extremum.apply(x, axes=axes, keepdims=bool(keepdims), fmax=fmax)


def amax(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Maximum over ``axis``; tied maxima share the gradient evenly."""
    return _extremum(x, axis, keepdims, True)


def amin(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Minimum over ``axis``; tied minima share the gradient evenly."""
    return _extremum(x, axis, keepdims, False)


def var(x: Any, axis: Any = None, correction: int = 1, keepdims: bool = False) -> Tensor:
    """Variance over ``axis`` with ``N - correction`` in the denominator (unbiased default)."""
    x = _floating(as_tensor(x))
    return Var.apply(
        x, axes=normalize_axes(axis, x.ndim), correction=int(correction), keepdims=bool(keepdims)
    )


def std(x: Any, axis: Any = None, correction: int = 1, keepdims: bool = False) -> Tensor:
    """Standard deviation: ``sqrt(var(x, axis, correction))``."""
    return sqrt(var(x, axis, correction, keepdims))


def _arg(x: Any, axis: Any, keepdims: bool, fmax: bool) -> Tensor:
    x = as_tensor(x)
    fn = np.argmax if fmax else np.argmin
    if axis is None:
        out = np.asarray(fn(x.data))
        if keepdims:
            out = out.reshape((1,) * x.ndim)
    else:
        (a,) = normalize_axes(axis, x.ndim) or (0,)
        out = np.asarray(fn(x.data, axis=a, keepdims=bool(keepdims)))
    return Tensor._make(out.astype(np.int64, copy=False), None, False, None)


def argmax(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Index of the (first) maximum: flat when ``axis`` is None; not differentiable."""
    return _arg(x, axis, keepdims, True)


def argmin(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Index of the (first) minimum: flat when ``axis`` is None; not differentiable."""
    return _arg(x, axis, keepdims, False)
