"""Binary elementwise ops with NumPy broadcasting: arithmetic, maximum/minimum, where.

Gradients of broadcast operands are summed back to each operand's shape. Domain edges
(log 0, x / 0, sqrt of negatives) give inf/nan silently, as in PyTorch. Every backward
is written with operators and dlx ops, so it also records a graph under create_graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx import _dtype
from dlx._autograd import Function, TensorBase
from dlx._ops._common import as_tensor, value
from dlx._ops.shape import SumTo, sum_to
from dlx._validation import broadcast_shape

__all__ = ["add", "div", "maximum", "minimum", "mul", "pow", "sub", "where"]

_QUIET = {"divide": "ignore", "invalid": "ignore", "over": "ignore"}
_ndarray = np.ndarray


def _operand(x: Any) -> Any:
    """A Tensor, an ndarray or a scalar; lists become arrays."""
    if isinstance(x, TensorBase | _ndarray) or _dtype.is_scalar(x):
        return x
    return _dtype.array_from(x, None, copy=False)


def _dtype_of(a: Any, b: Any) -> np.dtype:
    """Result dtype of ``a op b`` for operands normalised by :func:`_operand`."""
    if isinstance(a, TensorBase | _ndarray):
        if isinstance(b, TensorBase | _ndarray):
            da, db = a.dtype, b.dtype
            return da if da == db else _dtype.binary_dtype(da, db)
        return _dtype.scalar_dtype(a.dtype, b)
    if isinstance(b, TensorBase | _ndarray):
        return _dtype.scalar_dtype(b.dtype, a)
    return _dtype.array_from([a, b], None, copy=False).dtype


def _shape(x: Any) -> tuple[int, ...]:
    return x.shape if isinstance(x, TensorBase | _ndarray) else ()


def _binary(cls: type[Function], a: Any, b: Any, name: str, **kw: Any) -> Any:
    if isinstance(a, TensorBase):
        # Fast paths: a tensor with a Python float, or two tensors of one dtype.
        da = a._data.dtype
        tb = type(b)
        if tb is float:
            return cls.apply(a, b, dtype=da if da.kind == "f" else _dtype.default_float, **kw)
        if isinstance(b, TensorBase) and b._data.dtype == da and a._data.shape == b._data.shape:
            return cls.apply(a, b, dtype=da, **kw)
    a, b = _operand(a), _operand(b)
    if not isinstance(a, TensorBase) and not isinstance(b, TensorBase):
        a = as_tensor(a)
    try:
        return cls.apply(a, b, dtype=_dtype_of(a, b), **kw)
    except ValueError:
        broadcast_shape(_shape(a), _shape(b), name)  # raises the clear message
        raise


def _cast(out: Any, dtype: np.dtype) -> Any:
    """``out`` in ``dtype`` (NumPy's promotion differs from dlx's only for mixed kinds)."""
    return out if out.dtype == dtype else out.astype(dtype)


# -- arithmetic -----------------------------------------------------------------------
# Backward passes get an input's shape from its graph edge (ctx.input_shape): forward
# records nothing for it.
class Add(Function):
    __slots__ = ()
    double_backward = True

    @staticmethod
    def forward(ctx, a, b, dtype):
        out = np.add(a, b)
        return out if out.dtype == dtype else out.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        sa = ctx.input_shape(0) if na else None
        sb = ctx.input_shape(1) if nb else None
        gs = g.shape
        ga = (g if gs == sa else SumTo.apply(g, shape=sa)) if na else None
        gb = (g if gs == sb else SumTo.apply(g, shape=sb)) if nb else None
        return ga, gb


class Sub(Function):
    __slots__ = ()
    double_backward = True

    @staticmethod
    def forward(ctx, a, b, dtype):
        out = np.subtract(a, b)
        return out if out.dtype == dtype else out.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        sa = ctx.input_shape(0) if na else None
        sb = ctx.input_shape(1) if nb else None
        return (sum_to(g, sa) if na else None, sum_to(-g, sb) if nb else None)


class Mul(Function):
    __slots__ = ()
    double_backward = True

    @staticmethod
    def forward(ctx, a, b, dtype):
        na, nb = ctx.needs_input_grad
        if na or nb:
            ctx.save_for_backward(a if nb else None, b if na else None)
        out = np.multiply(a, b)
        return out if out.dtype == dtype else out.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        a, b = ctx.saved_tensors
        sa = ctx.input_shape(0) if na else None
        sb = ctx.input_shape(1) if nb else None
        ga = gb = None
        if na:
            ga = g * b
            if ga.shape != sa:
                ga = SumTo.apply(ga, shape=sa)
        if nb:
            gb = g * a
            if gb.shape != sb:
                gb = SumTo.apply(gb, shape=sb)
        return ga, gb


class Div(Function):
    __slots__ = ()
    double_backward = True

    @staticmethod
    def forward(ctx, a, b, dtype):
        na, nb = ctx.needs_input_grad
        if na or nb:
            ctx.save_for_backward(a if nb else None, b)
        with np.errstate(**_QUIET):
            return _cast(np.true_divide(a, b), dtype)

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        a, b = ctx.saved_tensors
        sa = ctx.input_shape(0) if na else None
        sb = ctx.input_shape(1) if nb else None
        ga = sum_to(g / b, sa) if na else None
        gb = sum_to(-g * a / (b * b), sb) if nb else None
        return ga, gb


class Pow(Function):
    """``a ** b`` with tensor exponent; d/db uses log(a), 0 where a == 0 and b >= 0."""

    __slots__ = ()

    double_backward = True

    @staticmethod
    def forward(ctx, a, b, dtype):
        with np.errstate(**_QUIET):
            out = np.power(a, b, dtype=dtype)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        from dlx._ops.unary import Log

        na, nb = ctx.needs_input_grad
        a, b, out = ctx.saved_tensors
        sa = ctx.input_shape(0) if na else None
        sb = ctx.input_shape(1) if nb else None
        ga = gb = None
        if na:
            ga = sum_to(g * b * a ** (b - 1), sa)
        if nb:
            zero = (np.asarray(value(a)) == 0) & (np.asarray(value(b)) >= 0)
            term = out * Log.apply(a)
            if zero.any():
                term = Where.apply(term, 0.0, cond=~zero, dtype=value(term).dtype)
            gb = sum_to(g * term, sb)
        return ga, gb


class PowScalar(Function):
    """``x ** p`` for a Python number p."""

    __slots__ = ("p",)

    double_backward = True

    @staticmethod
    def forward(ctx, x, p, dtype):
        ctx.save_for_backward(x)
        ctx.p = p
        with np.errstate(**_QUIET):
            return np.power(x, p, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        p = ctx.p
        if p == 0:
            return g * 0
        if p == 1:
            return g
        if p == 2:
            return g * 2 * x
        return g * p * x ** (p - 1)


class RPowScalar(Function):
    """``c ** x`` for a Python number c."""

    __slots__ = ("logc",)

    double_backward = True

    @staticmethod
    def forward(ctx, x, c, dtype):
        with np.errstate(**_QUIET):
            out = np.power(c, x, dtype=dtype)
            ctx.logc = float(np.log(np.float64(c)))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g * out * ctx.logc


class Maximum(Function):
    """Elementwise max; ties split the gradient evenly (as PyTorch)."""

    __slots__ = ("fmax",)

    double_backward = True

    @staticmethod
    def forward(ctx, a, b, dtype, fmax=True):
        out = (np.maximum if fmax else np.minimum)(a, b, dtype=dtype)
        ctx.save_for_backward(a, b)
        ctx.fmax = fmax
        return out

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        a, b = (value(v) for v in ctx.saved_tensors)
        sa = ctx.input_shape(0) if na else None
        sb = ctx.input_shape(1) if nb else None
        win = (a > b) if ctx.fmax else (a < b)
        share = np.where(win, 1.0, np.where(a == b, 0.5, 0.0)).astype(value(g).dtype)
        ga = sum_to(g * share, sa) if na else None
        gb = sum_to(g * (1 - share), sb) if nb else None
        return ga, gb


def add(input: Any, other: Any, *, alpha: Any = 1) -> Any:
    """``input + alpha * other`` with broadcasting."""
    if alpha != 1:
        other = mul(other, alpha)
    return _binary(Add, input, other, "add")


def sub(input: Any, other: Any, *, alpha: Any = 1) -> Any:
    """``input - alpha * other`` with broadcasting."""
    if alpha != 1:
        other = mul(other, alpha)
    return _binary(Sub, input, other, "sub")


def rsub(input: Any, other: Any) -> Any:
    """``other - input`` (the reflected operator)."""
    return _binary(Sub, other, input, "sub")


def mul(input: Any, other: Any) -> Any:
    """``input * other`` with broadcasting."""
    return _binary(Mul, input, other, "mul")


def rmul(input: Any, other: Any) -> Any:
    """``other * input`` (the reflected operator)."""
    return _binary(Mul, other, input, "mul")


def radd(input: Any, other: Any) -> Any:
    """``other + input`` (the reflected operator)."""
    return _binary(Add, other, input, "add")


def div(input: Any, other: Any) -> Any:
    """``input / other`` (true division; integer operands give float32)."""
    a, b = _operand(input), _operand(other)
    if not isinstance(a, TensorBase) and not isinstance(b, TensorBase):
        a = as_tensor(a)
    dtype = _dtype_of(a, b)
    if dtype.kind != "f":
        dtype = _dtype.default_float
    try:
        return Div.apply(a, b, dtype=dtype)
    except ValueError:
        broadcast_shape(_shape(a), _shape(b), "div")
        raise


def rdiv(input: Any, other: Any) -> Any:
    """``other / input`` (the reflected operator)."""
    return div(other, input)


def pow(input: Any, exponent: Any) -> Any:
    """``input ** exponent``; a scalar exponent or base takes a cheaper path."""
    a, b = input, exponent
    if isinstance(a, TensorBase) and _dtype.is_scalar(b):
        return PowScalar.apply(a, b, dtype=_dtype.scalar_dtype(a.dtype, b))
    if isinstance(b, TensorBase) and _dtype.is_scalar(a):
        return RPowScalar.apply(b, a, dtype=_dtype.scalar_dtype(b.dtype, a))
    return _binary(Pow, a, b, "pow")


def rpow(input: Any, other: Any) -> Any:
    """``other ** input`` (the reflected operator)."""
    return pow(other, input)


def maximum(input: Any, other: Any) -> Any:
    """Elementwise maximum; at ties each operand gets half the gradient."""
    return _binary(Maximum, input, other, "maximum", fmax=True)


def minimum(input: Any, other: Any) -> Any:
    """Elementwise minimum; at ties each operand gets half the gradient."""
    return _binary(Maximum, input, other, "minimum", fmax=False)


# -- selection -----------------------------------------------------------------------
class Where(Function):
    __slots__ = ("cond",)
    double_backward = True

    @staticmethod
    def forward(ctx, x, y, cond, dtype):
        ctx.cond = cond
        return np.where(cond, x, y).astype(dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        nx, ny = ctx.needs_input_grad
        sx = ctx.input_shape(0) if nx else None
        sy = ctx.input_shape(1) if ny else None
        zero = 0.0
        gx = sum_to(Where.apply(g, zero, cond=ctx.cond, dtype=g.dtype), sx) if nx else None
        gy = sum_to(Where.apply(zero, g, cond=ctx.cond, dtype=g.dtype), sy) if ny else None
        return gx, gy


def where(condition: Any, input: Any, other: Any) -> Any:
    """``input`` where ``condition`` is true, else ``other`` (broadcast together)."""
    cond = condition._data if isinstance(condition, TensorBase) else np.asarray(condition)
    if cond.dtype != np.bool_:
        msg = f"where: `condition` must be a bool tensor or array, got dtype {cond.dtype}"
        raise TypeError(msg)
    x, y = _operand(input), _operand(other)
    if not isinstance(x, TensorBase) and not isinstance(y, TensorBase):
        x = as_tensor(x)
    dtype = _dtype_of(x, y)
    xy = broadcast_shape(_shape(x), _shape(y), "where")
    broadcast_shape(cond.shape, xy, "where (`condition` vs values)")
    return Where.apply(x, y, cond=cond, dtype=dtype)
