"""Unary elementwise ops: neg, exp, log, sqrt, abs, clamp and dtype casts.

Domain edges (log 0, sqrt of negatives) give inf/nan silently, as in PyTorch. The
activation functions (relu, sigmoid, tanh, ...) are in ``dlx._ops.activation``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx import _dtype
from dlx._autograd import Function, TensorBase
from dlx._ops._common import as_tensor, value

__all__ = ["abs", "cast", "clamp", "clip", "exp", "float_input", "log", "neg", "sqrt"]

_QUIET = {"divide": "ignore", "invalid": "ignore", "over": "ignore"}


class Neg(Function):
    __slots__ = ()
    double_backward = True

    @staticmethod
    def forward(ctx, x):
        return np.negative(x)

    @staticmethod
    def backward(ctx, g):
        return -g


class Exp(Function):
    __slots__ = ()
    double_backward = True

    @staticmethod
    def forward(ctx, x):
        with np.errstate(over="ignore"):
            y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


class Log(Function):
    __slots__ = ()
    double_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with np.errstate(**_QUIET):
            return np.log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / x


class Sqrt(Function):
    __slots__ = ()
    double_backward = True

    @staticmethod
    def forward(ctx, x):
        with np.errstate(**_QUIET):
            y = np.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g / (2 * y)


class Abs(Function):
    """|x|; gradient sign(x), 0 at 0 (as PyTorch)."""

    __slots__ = ()

    double_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * np.sign(value(x)).astype(value(g).dtype, copy=False)


class Clamp(Function):
    """Clip to [lo, hi]; gradient 1 where lo <= x <= hi (bounds inclusive, as PyTorch)."""

    __slots__ = ("hi", "lo")

    double_backward = True

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return np.clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        x = value(x)
        keep = np.ones(x.shape, dtype=bool)
        if ctx.lo is not None:
            keep &= x >= ctx.lo
        if ctx.hi is not None:
            keep &= x <= ctx.hi
        return g * keep


class Cast(Function):
    __slots__ = ("in_dtype",)
    double_backward = True

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.in_dtype = x.dtype
        return x.astype(dtype, order="C")

    @staticmethod
    def backward(ctx, g):
        return g  # the engine casts it to the input's dtype


def float_input(x: Any, name: str) -> Any:
    """``x`` as a floating Tensor: integer and bool inputs become float32 (PyTorch's rule)."""
    x = as_tensor(x)
    if x.dtype.kind != "f":
        return Cast.apply(x, dtype=_dtype.default_float)
    return x


def neg(input: Any) -> Any:
    """``-input``."""
    return Neg.apply(as_tensor(input))


def exp(input: Any) -> Any:
    """Elementwise e**x."""
    return Exp.apply(float_input(input, "exp"))


def log(input: Any) -> Any:
    """Natural logarithm (-inf at 0, nan below)."""
    return Log.apply(float_input(input, "log"))


def sqrt(input: Any) -> Any:
    """Square root (nan below 0)."""
    return Sqrt.apply(float_input(input, "sqrt"))


def abs(input: Any) -> Any:
    """Absolute value; the gradient at 0 is 0."""
    return Abs.apply(as_tensor(input))


class ClampTensor(Function):
    """Clip to tensor bounds ``lo``/``hi`` (broadcast; either may be None): the gradient
    goes to ``x`` where ``lo <= x <= hi``, else to the bound that was taken (PyTorch's
    rule, also when ``lo > hi``: then the result is ``hi``)."""

    __slots__ = ()
    double_backward = True

    @staticmethod
    def forward(ctx, x, lo, hi, dtype):
        ctx.save_for_backward(x, lo, hi)
        out = x if lo is None else np.maximum(x, lo)
        out = out if hi is None else np.minimum(out, hi)
        return np.asarray(out, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        from dlx._ops.shape import sum_to

        x, lo, hi = (value(v) for v in ctx.saved_tensors)
        nx, nlo, nhi = ctx.needs_input_grad
        below = np.zeros(g.shape, bool) if lo is None else np.broadcast_to(x < lo, g.shape)
        above = np.zeros(g.shape, bool) if hi is None else np.broadcast_to(x > hi, g.shape)
        if lo is not None and hi is not None:
            below = below & (lo <= hi)
            above = ~below & (above | (lo > hi))
        gx = sum_to(g * ~(below | above), ctx.input_shape(0)) if nx else None
        glo = sum_to(g * below, ctx.input_shape(1)) if nlo else None
        ghi = sum_to(g * above, ctx.input_shape(2)) if nhi else None
        return gx, glo, ghi


def _bound(b: Any) -> Any:
    """A Python number for scalar bounds; a Tensor for bounds that need ``ClampTensor``."""
    if b is None or _dtype.is_scalar(b):
        return b
    t = as_tensor(b)
    if t._data.size == 1 and not t.requires_grad and t.ndim == 0:
        return t._data.item()
    return t


def clamp(input: Any, min: Any = None, max: Any = None) -> Any:
    """Clip values to ``[min, max]``: numbers or tensors (broadcast), either may be None."""
    if min is None and max is None:
        msg = "clamp: at least one of `min` and `max` must be given"
        raise ValueError(msg)
    x = as_tensor(input)
    lo, hi = _bound(min), _bound(max)
    if isinstance(lo, TensorBase) or isinstance(hi, TensorBase):
        from dlx._validation import broadcast_shape

        shape = x.shape
        for b in (lo, hi):
            if b is not None:
                shape = broadcast_shape(shape, np.shape(value(b)), "clamp")
        dt = x.dtype
        for b in (lo, hi):
            if isinstance(b, TensorBase):
                dt = _dtype.binary_dtype(dt, b.dtype)
        return ClampTensor.apply(x, lo, hi, dtype=dt)
    return Clamp.apply(x, lo=lo, hi=hi)


clip = clamp


def cast(input: Any, dtype: Any) -> Any:
    """``input`` converted to ``dtype`` (differentiable between float dtypes)."""
    x = as_tensor(input)
    dt = _dtype.as_dtype(dtype)
    if dt == x.dtype:
        return x
    return Cast.apply(x, dtype=dt)


def clone(input: Any) -> Any:
    """A differentiable copy with its own memory."""
    x = as_tensor(input)
    return Cast.apply(x, dtype=x.dtype)
