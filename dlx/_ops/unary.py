"""Unary elementwise ops: neg, exp, log, sqrt, abs, clamp, relu, sigmoid, tanh, cast.

Domain edges (log 0, sqrt of negatives) give inf/nan silently, as in PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx import _dtype
from dlx._native import _core
from dlx._ops.elementwise import _QUIET, as_tensor
from dlx.autograd.function import Function, c_contiguous
from dlx.tensor import Tensor


class Neg(Function):
    @staticmethod
    def forward(ctx, x):
        return np.negative(x)

    @staticmethod
    def backward(ctx, g):
        return -g


class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        with np.errstate(over="ignore"):
            y = np.exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_arrays
        return g * y


class Log(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with np.errstate(**_QUIET):
            return np.log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_arrays
        return g / x


class Sqrt(Function):
    @staticmethod
    def forward(ctx, x):
        with np.errstate(**_QUIET):
            y = np.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_arrays
        return g / (2 * y)


class Abs(Function):
    """|x|; gradient sign(x), 0 at 0 (as PyTorch)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_arrays
        return g * np.sign(x)


class Clamp(Function):
    """Clip to [lo, hi]; gradient 1 where lo <= x <= hi (bounds inclusive, as PyTorch)."""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return np.clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_arrays
        keep = np.ones(x.shape, dtype=bool)
        if ctx.lo is not None:
            keep &= x >= ctx.lo
        if ctx.hi is not None:
            keep &= x <= ctx.hi
        return g * keep


def _kernel_ok(x: np.ndarray) -> bool:
    """float32/float64 arrays go to the C++ kernels (faster than NumPy for relu/sigmoid)."""
    return x.dtype == np.float32 or x.dtype == np.float64


class Relu(Function):
    @staticmethod
    def forward(ctx, x):
        y = _core.relu_forward(c_contiguous(x)) if _kernel_ok(x) else np.maximum(x, 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_arrays
        if _kernel_ok(y) and g.dtype == y.dtype:
            return _core.relu_backward(c_contiguous(g), y)  # y > 0 exactly where x > 0
        return g * (y > 0)


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, x):
        if _kernel_ok(x):
            y = _core.sigmoid_forward(c_contiguous(x))
        else:  # 1 / (1 + e^-x), stable
            y = np.exp(-np.logaddexp(0, -x)).astype(x.dtype, copy=False)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_arrays
        if _kernel_ok(y) and g.dtype == y.dtype:
            return _core.sigmoid_backward(c_contiguous(g), y)
        return g * y * (1 - y)


class Tanh(Function):
    @staticmethod
    def forward(ctx, x):
        y = np.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_arrays
        return g * (1 - y * y)


class Cast(Function):
    @staticmethod
    def forward(ctx, x, dtype):
        return x.astype(dtype, order="C")

    @staticmethod
    def backward(ctx, g):
        return g  # the engine casts it back to the input's dtype


def _float_input(x: Any, name: str) -> Tensor:
    x = as_tensor(x)
    if x.dtype.kind != "f":
        msg = f"{name}: `input` must be a floating tensor, got dtype {x.dtype}"
        raise TypeError(msg)
    return x


def neg(x: Any) -> Tensor:
    """``-x``."""
    return Neg.apply(as_tensor(x))


def exp(x: Any) -> Tensor:
    """Elementwise e**x."""
    return Exp.apply(_float_input(x, "exp"))


def log(x: Any) -> Tensor:
    """Natural logarithm (-inf at 0, nan below)."""
    return Log.apply(_float_input(x, "log"))


def sqrt(x: Any) -> Tensor:
    """Square root (nan below 0)."""
    return Sqrt.apply(_float_input(x, "sqrt"))


def abs(x: Any) -> Tensor:
    """Absolute value; the gradient at 0 is 0."""
    return Abs.apply(as_tensor(x))


def clamp(x: Any, min: Any = None, max: Any = None) -> Tensor:
    """Clip values to ``[min, max]`` (either bound may be None)."""
    if min is None and max is None:
        msg = "clamp: at least one of `min` and `max` must be given"
        raise ValueError(msg)
    x = as_tensor(x)
    lo = min.item() if isinstance(min, Tensor) else min
    hi = max.item() if isinstance(max, Tensor) else max
    return Clamp.apply(x, lo=lo, hi=hi)


clip = clamp


def relu(x: Any) -> Tensor:
    """max(x, 0); the gradient at 0 is 0."""
    return Relu.apply(_float_input(x, "relu"))


def sigmoid(x: Any) -> Tensor:
    """1 / (1 + exp(-x)), computed stably."""
    return Sigmoid.apply(_float_input(x, "sigmoid"))


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent."""
    return Tanh.apply(_float_input(x, "tanh"))


def cast(x: Tensor, dtype: Any) -> Tensor:
    """``x`` converted to ``dtype`` (differentiable between float dtypes)."""
    dt = _dtype.as_dtype(dtype)
    if dt == x.dtype:
        return x
    return Cast.apply(x, dtype=dt)
