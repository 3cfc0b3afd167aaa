"""Unary math: trigonometric and hyperbolic functions, exp/log variants, rsqrt, square,
reciprocal, and the piecewise-constant sign/floor/ceil/round/trunc (zero gradient, as in
PyTorch), plus frac.

Integer and bool inputs are promoted to float32 (PyTorch's rule), except for ``square``,
``sign`` and the rounding functions, which keep the dtype. Each backward is written with
operators and these same ops, so gradients of any order work. ``<op>_`` is the in-place
form (recorded in the graph when grad is involved, see ``dlx._ops.inplace``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlx._autograd import Function
from dlx._ops._common import as_tensor
from dlx._ops.inplace import inplace_form
from dlx._ops.unary import Sqrt, float_input

__all__ = [
    "acos",
    "asin",
    "atan",
    "ceil",
    "cos",
    "cosh",
    "exp2",
    "expm1",
    "floor",
    "frac",
    "log1p",
    "log2",
    "log10",
    "reciprocal",
    "round",
    "rsqrt",
    "sign",
    "sin",
    "sinh",
    "square",
    "tan",
    "trunc",
]

_QUIET = {"divide": "ignore", "invalid": "ignore", "over": "ignore"}
_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


class Trig(Function):
    """sin or cos: each the other's derivative (``cos' = -sin``)."""

    __slots__ = ("cos",)
    double_backward = True

    @staticmethod
    def forward(ctx, x, cos):
        ctx.save_for_backward(x)
        ctx.cos = cos
        return np.cos(x) if cos else np.sin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if ctx.cos:
            return -(g * Trig.apply(x, cos=False))
        return g * Trig.apply(x, cos=True)


class Tan(Function):
    __slots__ = ()
    double_backward = True

    @staticmethod
    def forward(ctx, x):
        y = np.tan(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (y * y + 1)


class Asin(Function):
    """arcsin; ``acos`` is ``pi/2 - asin`` and shares the derivative up to sign."""

    __slots__ = ("sign",)
    double_backward = True

    @staticmethod
    def forward(ctx, x, sign):
        ctx.save_for_backward(x)
        ctx.sign = sign
        with np.errstate(**_QUIET):
            return np.arcsin(x) if sign > 0 else np.arccos(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        with np.errstate(**_QUIET):
            d = g / Sqrt.apply(1 - x * x)
        return d if ctx.sign > 0 else -d


class Atan(Function):
    __slots__ = ()
    double_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.arctan(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / (x * x + 1)


class Hyperbolic(Function):
    """sinh or cosh: each the other's derivative."""

    __slots__ = ("cosh",)
    double_backward = True

    @staticmethod
    def forward(ctx, x, cosh):
        ctx.save_for_backward(x)
        ctx.cosh = cosh
        with np.errstate(over="ignore"):
            return np.cosh(x) if cosh else np.sinh(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * Hyperbolic.apply(x, cosh=not ctx.cosh)


class ExpVariant(Function):
    """``exp2`` (2**x) and ``expm1`` (e**x - 1): derivatives from the saved output."""

    __slots__ = ("kind",)
    double_backward = True

    @staticmethod
    def forward(ctx, x, kind):
        with np.errstate(over="ignore"):
            y = np.exp2(x) if kind == "exp2" else np.expm1(x)
        ctx.save_for_backward(y)
        ctx.kind = kind
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y * _LN2 if ctx.kind == "exp2" else g * (y + 1)


class LogVariant(Function):
    """``log1p``, ``log2``, ``log10``: ``g / (x + 1)`` and ``g / (x ln b)``."""

    __slots__ = ("kind",)
    double_backward = True

    @staticmethod
    def forward(ctx, x, kind):
        ctx.save_for_backward(x)
        ctx.kind = kind
        fn = {"log1p": np.log1p, "log2": np.log2, "log10": np.log10}[kind]
        with np.errstate(**_QUIET):
            return fn(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if ctx.kind == "log1p":
            return g / (x + 1)
        return g / (x * (_LN2 if ctx.kind == "log2" else _LN10))


class Rsqrt(Function):
    __slots__ = ()
    double_backward = True

    @staticmethod
    def forward(ctx, x):
        with np.errstate(**_QUIET):
            y = 1 / np.sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (y * y * y) * -0.5


class Reciprocal(Function):
    __slots__ = ()
    double_backward = True

    @staticmethod
    def forward(ctx, x):
        with np.errstate(**_QUIET):
            y = 1 / x
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return -(g * y * y)


class Square(Function):
    __slots__ = ()
    double_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.square(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x * 2


class Rounding(Function):
    """sign, floor, ceil, round, trunc: piecewise constant, so the gradient is zero."""

    __slots__ = ()
    double_backward = True

    @staticmethod
    def forward(ctx, x, fn, args):
        return fn(x, *args)

    @staticmethod
    def backward(ctx, g):
        return g * 0


class Frac(Function):
    """``x - trunc(x)``: gradient 1."""

    __slots__ = ()
    double_backward = True

    @staticmethod
    def forward(ctx, x):
        return x - np.trunc(x)

    @staticmethod
    def backward(ctx, g):
        return g


# -- functions ----------------------------------------------------------------------------
def sin(input: Any) -> Any:
    """Elementwise sine."""
    return Trig.apply(float_input(input, "sin"), cos=False)


def cos(input: Any) -> Any:
    """Elementwise cosine."""
    return Trig.apply(float_input(input, "cos"), cos=True)


def tan(input: Any) -> Any:
    """Elementwise tangent."""
    return Tan.apply(float_input(input, "tan"))


def asin(input: Any) -> Any:
    """Elementwise arcsine (nan outside [-1, 1])."""
    return Asin.apply(float_input(input, "asin"), sign=1)


def acos(input: Any) -> Any:
    """Elementwise arccosine (nan outside [-1, 1])."""
    return Asin.apply(float_input(input, "acos"), sign=-1)


def atan(input: Any) -> Any:
    """Elementwise arctangent."""
    return Atan.apply(float_input(input, "atan"))


def sinh(input: Any) -> Any:
    """Elementwise hyperbolic sine."""
    return Hyperbolic.apply(float_input(input, "sinh"), cosh=False)


def cosh(input: Any) -> Any:
    """Elementwise hyperbolic cosine."""
    return Hyperbolic.apply(float_input(input, "cosh"), cosh=True)


def exp2(input: Any) -> Any:
    """Elementwise ``2 ** x``."""
    return ExpVariant.apply(float_input(input, "exp2"), kind="exp2")


def expm1(input: Any) -> Any:
    """Elementwise ``e ** x - 1``, accurate near 0."""
    return ExpVariant.apply(float_input(input, "expm1"), kind="expm1")


def log1p(input: Any) -> Any:
    """Elementwise ``log(1 + x)``, accurate near 0."""
    return LogVariant.apply(float_input(input, "log1p"), kind="log1p")


def log2(input: Any) -> Any:
    """Elementwise base-2 logarithm."""
    return LogVariant.apply(float_input(input, "log2"), kind="log2")


def log10(input: Any) -> Any:
    """Elementwise base-10 logarithm."""
    return LogVariant.apply(float_input(input, "log10"), kind="log10")


def rsqrt(input: Any) -> Any:
    """Elementwise ``1 / sqrt(x)``."""
    return Rsqrt.apply(float_input(input, "rsqrt"))


def reciprocal(input: Any) -> Any:
    """Elementwise ``1 / x``."""
    return Reciprocal.apply(float_input(input, "reciprocal"))


def square(input: Any) -> Any:
    """Elementwise ``x * x`` (dtype kept)."""
    x = as_tensor(input)
    if x.dtype.kind == "b":
        x = x.long()
    return Square.apply(x)


def _rounded(input: Any, fn: Any, *args: Any) -> Any:
    x = as_tensor(input)
    if x.dtype.kind != "f" and fn is not np.sign:
        return x.clone()  # integers are already whole
    return Rounding.apply(x, fn=fn, args=args)


def sign(input: Any) -> Any:
    """-1, 0 or 1 by the sign of each element (zero gradient)."""
    x = as_tensor(input)
    if x.dtype.kind == "b":
        return x.clone()
    return Rounding.apply(x, fn=np.sign, args=())


def floor(input: Any) -> Any:
    """Largest integer <= x, elementwise (zero gradient)."""
    return _rounded(input, np.floor)


def ceil(input: Any) -> Any:
    """Smallest integer >= x, elementwise (zero gradient)."""
    return _rounded(input, np.ceil)


def round(input: Any, *, decimals: int = 0) -> Any:
    """Round half to even (to ``decimals`` places), elementwise (zero gradient)."""
    from dlx._validation import as_int

    d = as_int(decimals, "decimals")
    return _rounded(input, np.round, d)


def trunc(input: Any) -> Any:
    """Round towards zero, elementwise (zero gradient)."""
    return _rounded(input, np.trunc)


fix = trunc


def frac(input: Any) -> Any:
    """Fractional part ``x - trunc(x)`` (gradient 1)."""
    x = as_tensor(input)
    if x.dtype.kind != "f":
        msg = f"frac: `input` must be a floating tensor, got dtype {x.dtype}"
        raise TypeError(msg)
    return Frac.apply(x)


sin_ = inplace_form(sin)
cos_ = inplace_form(cos)
tan_ = inplace_form(tan, saves_self=False)
asin_ = inplace_form(asin)
acos_ = inplace_form(acos)
atan_ = inplace_form(atan)
sinh_ = inplace_form(sinh)
cosh_ = inplace_form(cosh)
exp2_ = inplace_form(exp2, saves_self=False)
expm1_ = inplace_form(expm1, saves_self=False)
log1p_ = inplace_form(log1p)
log2_ = inplace_form(log2)
log10_ = inplace_form(log10)
rsqrt_ = inplace_form(rsqrt, saves_self=False)
reciprocal_ = inplace_form(reciprocal, saves_self=False)
square_ = inplace_form(square)
sign_ = inplace_form(sign, saves_self=False)
floor_ = inplace_form(floor, saves_self=False)
ceil_ = inplace_form(ceil, saves_self=False)
round_ = inplace_form(round, saves_self=False)
trunc_ = inplace_form(trunc, saves_self=False)
frac_ = inplace_form(frac, saves_self=False)
