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
    """``x`` as a Tensor; TypeError unless its dtype is floating."""
    x = as_tensor(x)
    if x.dtype.kind != "f":
        msg = f"{name}: `input` must be a floating tensor, got dtype {x.dtype}"
        raise TypeError(msg)
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


def clamp(input: Any, min: Any = None, max: Any = None) -> Any:
    """Clip values to ``[min, max]`` (either bound may be None)."""
    if min is None and max is None:
        msg = "clamp: at least one of `min` and `max` must be given"
        raise ValueError(msg)
    x = as_tensor(input)
    lo = min.numpy().item() if isinstance(min, TensorBase) else min
    hi = max.numpy().item() if isinstance(max, TensorBase) else max
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
