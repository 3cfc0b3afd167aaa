"""More elementwise ops: atan2, fmod/remainder, floor_divide, lerp, addcmul/addcdiv,
nan_to_num; comparisons (eq ... ge), logical and bitwise ops, isnan/isinf/isfinite,
isclose/allclose/equal.

Comparisons, logical ops and the is* tests give bool tensors outside the graph. The
differentiable ops broadcast like ``dlx.add`` and sum their gradients back to each
operand's shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx import _dtype
from dlx._autograd import Function, TensorBase, make_tensor
from dlx._ops._common import as_tensor, value
from dlx._ops.elementwise import _binary, _operand, add, div, mul, sub
from dlx._ops.inplace import inplace_form
from dlx._ops.shape import sum_to
from dlx._ops.unary import float_input

__all__ = [
    "addcdiv",
    "addcmul",
    "allclose",
    "atan2",
    "bitwise_and",
    "bitwise_not",
    "bitwise_or",
    "bitwise_xor",
    "clamp_max",
    "clamp_min",
    "eq",
    "equal",
    "floor_divide",
    "fmod",
    "ge",
    "gt",
    "isclose",
    "isfinite",
    "isinf",
    "isnan",
    "isneginf",
    "isposinf",
    "le",
    "lerp",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "lt",
    "nan_to_num",
    "ne",
    "remainder",
]

_QUIET = {"divide": "ignore", "invalid": "ignore", "over": "ignore"}


class Atan2(Function):
    __slots__ = ()
    double_backward = True

    @staticmethod
    def forward(ctx, a, b, dtype):
        ctx.save_for_backward(a, b)
        return np.arctan2(a, b, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        with np.errstate(**_QUIET):
            scale = g / (a * a + b * b)
        ga = sum_to(scale * b, ctx.input_shape(0)) if na else None
        gb = sum_to(-(scale * a), ctx.input_shape(1)) if nb else None
        return ga, gb


class Mod(Function):
    """fmod (the sign of ``a``) and remainder (the sign of ``b``): d/da = 1, d/db = -q with
    the quotient q rounded towards zero (fmod) or down (remainder)."""

    __slots__ = ("floor",)
    double_backward = True

    @staticmethod
    def forward(ctx, a, b, dtype, floor):
        ctx.save_for_backward(a, b)
        ctx.floor = floor
        with np.errstate(**_QUIET):
            return (np.remainder if floor else np.fmod)(a, b, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = sum_to(g, ctx.input_shape(0)) if na else None
        gb = None
        if nb:
            with np.errstate(**_QUIET):
                q = np.true_divide(value(a), value(b))
            q = (np.floor(q) if ctx.floor else np.trunc(q)).astype(value(g).dtype)
            gb = sum_to(-(g * q), ctx.input_shape(1))
        return ga, gb


def atan2(input: Any, other: Any) -> Any:
    """Elementwise arctangent of ``input / other`` in the correct quadrant."""
    a = float_input(input, "atan2") if isinstance(input, TensorBase) else input
    return _binary(Atan2, a, other, "atan2")


def fmod(input: Any, other: Any) -> Any:
    """Elementwise C-style remainder (the sign of ``input``)."""
    return _binary(Mod, input, other, "fmod", floor=False)


def remainder(input: Any, other: Any) -> Any:
    """Elementwise Python-style remainder (the sign of ``other``), as ``%``."""
    return _binary(Mod, input, other, "remainder", floor=True)


def floor_divide(input: Any, other: Any) -> Any:
    """Elementwise ``input // other`` rounded down (not differentiable), as ``//``."""
    a, b = _operand(input), _operand(other)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.floor_divide(value(a), value(b))
    dt = _dtype.binary_dtype(np.asarray(value(a)).dtype, np.asarray(value(b)).dtype)
    if isinstance(a, TensorBase) and _dtype.is_scalar(b):
        dt = _dtype.scalar_dtype(a.dtype, b)
    elif isinstance(b, TensorBase) and _dtype.is_scalar(a):
        dt = _dtype.scalar_dtype(b.dtype, a)
    return make_tensor(np.asarray(out).astype(dt, copy=False))


def lerp(input: Any, end: Any, weight: Any) -> Any:
    """``input + weight * (end - input)`` (``weight`` a number or a tensor)."""
    return add(input, mul(weight, sub(end, input)))


def addcmul(input: Any, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Any:
    """``input + value * tensor1 * tensor2``."""
    prod = mul(tensor1, tensor2)
    return add(input, prod if value == 1 else mul(prod, value))


def addcdiv(input: Any, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Any:
    """``input + value * tensor1 / tensor2``."""
    q = div(tensor1, tensor2)
    return add(input, q if value == 1 else mul(q, value))


class NanToNum(Function):
    """Replace nan/inf/-inf; the gradient passes only where the input was finite."""

    __slots__ = ()
    double_backward = True

    @staticmethod
    def forward(ctx, x, nan, posinf, neginf):
        ctx.save_for_backward(x)
        return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * np.isfinite(value(x))


def nan_to_num(
    input: Any, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None
) -> Any:
    """nan -> ``nan``, inf -> ``posinf``, -inf -> ``neginf`` (default: the dtype's largest
    and smallest finite values)."""
    x = as_tensor(input)
    if x.dtype.kind != "f":
        return x.clone()
    return NanToNum.apply(x, nan=nan, posinf=posinf, neginf=neginf)


# -- bool results ---------------------------------------------------------------------------
def _bool(ufunc: np.ufunc, a: Any, b: Any, name: str) -> Any:
    x, y = value(_operand(a)), value(_operand(b))
    try:
        return make_tensor(np.asarray(ufunc(x, y)))
    except ValueError:
        from dlx._validation import broadcast_shape

        broadcast_shape(np.shape(x), np.shape(y), name)
        raise


def eq(input: Any, other: Any) -> Any:
    """Elementwise ``input == other`` (a bool tensor)."""
    return _bool(np.equal, input, other, "eq")


def ne(input: Any, other: Any) -> Any:
    """Elementwise ``input != other`` (a bool tensor)."""
    return _bool(np.not_equal, input, other, "ne")


def lt(input: Any, other: Any) -> Any:
    """Elementwise ``input < other`` (a bool tensor)."""
    return _bool(np.less, input, other, "lt")


def le(input: Any, other: Any) -> Any:
    """Elementwise ``input <= other`` (a bool tensor)."""
    return _bool(np.less_equal, input, other, "le")


def gt(input: Any, other: Any) -> Any:
    """Elementwise ``input > other`` (a bool tensor)."""
    return _bool(np.greater, input, other, "gt")


def ge(input: Any, other: Any) -> Any:
    """Elementwise ``input >= other`` (a bool tensor)."""
    return _bool(np.greater_equal, input, other, "ge")


def logical_and(input: Any, other: Any) -> Any:
    """Elementwise logical and of the truth values (a bool tensor)."""
    return _bool(np.logical_and, input, other, "logical_and")


def logical_or(input: Any, other: Any) -> Any:
    """Elementwise logical or of the truth values (a bool tensor)."""
    return _bool(np.logical_or, input, other, "logical_or")


def logical_xor(input: Any, other: Any) -> Any:
    """Elementwise logical exclusive or of the truth values (a bool tensor)."""
    return _bool(np.logical_xor, input, other, "logical_xor")


def logical_not(input: Any) -> Any:
    """Elementwise logical not (a bool tensor)."""
    return make_tensor(np.logical_not(value(as_tensor(input))))


def _bitwise(ufunc: np.ufunc, a: Any, b: Any, name: str) -> Any:
    for t in (a, b):
        dt = np.asarray(value(t)).dtype
        if dt.kind not in "biu":
            msg = f"{name}: operands must be bool or integer tensors, got dtype {dt}"
            raise TypeError(msg)
    return _bool(ufunc, a, b, name)


def bitwise_and(input: Any, other: Any) -> Any:
    """Elementwise ``&`` of bool or integer tensors."""
    return _bitwise(np.bitwise_and, input, other, "bitwise_and")


def bitwise_or(input: Any, other: Any) -> Any:
    """Elementwise ``|`` of bool or integer tensors."""
    return _bitwise(np.bitwise_or, input, other, "bitwise_or")


def bitwise_xor(input: Any, other: Any) -> Any:
    """Elementwise ``^`` of bool or integer tensors."""
    return _bitwise(np.bitwise_xor, input, other, "bitwise_xor")


def bitwise_not(input: Any) -> Any:
    """Elementwise ``~``: logical not for bool tensors, bit inversion for integers."""
    x = value(as_tensor(input))
    if x.dtype.kind not in "biu":
        msg = f"bitwise_not: `input` must be a bool or integer tensor, got dtype {x.dtype}"
        raise TypeError(msg)
    return make_tensor(np.invert(x))


def isnan(input: Any) -> Any:
    """True where the element is nan."""
    return make_tensor(np.isnan(value(as_tensor(input))))


def isinf(input: Any) -> Any:
    """True where the element is inf or -inf."""
    return make_tensor(np.isinf(value(as_tensor(input))))


def isposinf(input: Any) -> Any:
    """True where the element is inf."""
    return make_tensor(np.isposinf(value(as_tensor(input))))


def isneginf(input: Any) -> Any:
    """True where the element is -inf."""
    return make_tensor(np.isneginf(value(as_tensor(input))))


def isfinite(input: Any) -> Any:
    """True where the element is neither nan nor infinite."""
    return make_tensor(np.isfinite(value(as_tensor(input))))


def isclose(
    input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> Any:
    """Elementwise ``|input - other| <= atol + rtol * |other|`` (a bool tensor)."""
    a, b = value(as_tensor(input)), value(_operand(other))
    return make_tensor(np.asarray(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)))


def allclose(
    input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> bool:
    """True when every element is :func:`isclose`."""
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def equal(input: Any, other: Any) -> bool:
    """True when both tensors have the same shape and elements."""
    a, b = value(as_tensor(input)), value(as_tensor(other))
    return bool(a.shape == b.shape and np.array_equal(a, b))


def clamp_min(input: Any, min: Any) -> Any:
    """``clamp(input, min=min)``."""
    from dlx._ops.unary import clamp

    return clamp(input, min=min)


def clamp_max(input: Any, max: Any) -> Any:
    """``clamp(input, max=max)``."""
    from dlx._ops.unary import clamp

    return clamp(input, max=max)


lerp_ = inplace_form(lerp, saves_self=False)
addcmul_ = inplace_form(addcmul, saves_self=False)
addcdiv_ = inplace_form(addcdiv, saves_self=False)
fmod_ = inplace_form(fmod)
remainder_ = inplace_form(remainder)
atan2_ = inplace_form(atan2)
nan_to_num_ = inplace_form(nan_to_num)
