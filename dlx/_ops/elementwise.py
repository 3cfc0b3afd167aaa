"""Binary elementwise ops with NumPy broadcasting: arithmetic, maximum/minimum, where.

Gradients of broadcast operands are summed back to each operand's shape. Domain edges
(log 0, x / 0, sqrt of negatives) give inf/nan silently, as in PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx import _dtype
from dlx._validation import broadcast_shape
from dlx.autograd.function import Function, unbroadcast
from dlx.tensor import Tensor

_QUIET = {"divide": "ignore", "invalid": "ignore", "over": "ignore"}


def as_tensor(x: Any) -> Tensor:
    """``x`` if it is a Tensor, else a constant Tensor (dtype policy of ``dlx.tensor``)."""
    return x if isinstance(x, Tensor) else Tensor(x)


_ARRAYS = (Tensor, np.ndarray)


def _operand(x: Any) -> Any:
    """A Tensor, an ndarray or a scalar; lists become arrays."""
    if isinstance(x, _ARRAYS) or _dtype.is_scalar(x):
        return x
    return _dtype.array_from(x, None, copy=False)


def _dtype_of(a: Any, b: Any) -> np.dtype:
    """Result dtype of ``a op b`` for operands normalised by :func:`_operand`."""
    if isinstance(a, _ARRAYS):
        if isinstance(b, _ARRAYS):
            da, db = a.dtype, b.dtype
            return da if da == db else _dtype.binary_dtype(da, db)
        return _dtype.scalar_dtype(a.dtype, b)
    if isinstance(b, _ARRAYS):
        return _dtype.scalar_dtype(b.dtype, a)
    return _dtype.array_from([a, b], None, copy=False).dtype


def _binary(cls: type[Function], a: Any, b: Any, name: str, **kw: Any) -> Tensor:
    a, b = _operand(a), _operand(b)
    dtype = _dtype_of(a, b)
    try:
        return cls.apply(a, b, dtype=dtype, **kw)
    except ValueError:
        broadcast_shape(np.shape(a), np.shape(b), name)  # raises the clear message
        raise


# -- arithmetic -----------------------------------------------------------------------
class Add(Function):
    @staticmethod
    def forward(ctx, a, b, dtype):
        ctx.shapes = (np.shape(a), np.shape(b))
        return np.add(a, b, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        return (unbroadcast(g, sa) if na else None, unbroadcast(g, sb) if nb else None)


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b, dtype):
        ctx.shapes = (np.shape(a), np.shape(b))
        return np.subtract(a, b, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        sa, sb = ctx.shapes
        return (unbroadcast(g, sa) if na else None, unbroadcast(-g, sb) if nb else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b, dtype):
        na, nb = ctx.needs_input_grad
        ctx.save_for_backward(a if nb else None, b if na else None)
        ctx.shapes = (np.shape(a), np.shape(b))
        return np.multiply(a, b, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        a, b = ctx.saved_arrays
        sa, sb = ctx.shapes
        return (unbroadcast(g * b, sa) if na else None, unbroadcast(g * a, sb) if nb else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b, dtype):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b)
        ctx.shapes = (np.shape(a), np.shape(b))
        with np.errstate(**_QUIET):
            return np.true_divide(a, b, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        a, b = ctx.saved_arrays
        sa, sb = ctx.shapes
        ga = unbroadcast(g / b, sa) if na else None
        gb = unbroadcast(-g * a / (b * b), sb) if nb else None
        return ga, gb


class Pow(Function):
    """``a ** b`` with tensor exponent; d/db uses log(a), 0 where a == 0 and b >= 0."""

    @staticmethod
    def forward(ctx, a, b, dtype):
        with np.errstate(**_QUIET):
            out = np.power(a, b, dtype=dtype)
        ctx.save_for_backward(a, b, out)
        ctx.shapes = (np.shape(a), np.shape(b))
        return out

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        a, b, out = ctx.saved_arrays
        sa, sb = ctx.shapes
        ga = gb = None
        if na:
            ga = unbroadcast(g * b * np.power(a, b - 1), sa)
        if nb:
            term = out * np.log(a)
            term = np.where((np.asarray(a) == 0) & (np.asarray(b) >= 0), 0, term)
            gb = unbroadcast(g * term, sb)
        return ga, gb


class PowScalar(Function):
    """``x ** p`` for a Python number p."""

    @staticmethod
    def forward(ctx, x, p, dtype):
        ctx.save_for_backward(x)
        ctx.p = p
        with np.errstate(**_QUIET):
            return np.power(x, p, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_arrays
        p = ctx.p
        if p == 0:
            return np.zeros_like(g)
        if p == 2:
            return g * 2 * x
        return g * p * np.power(x, p - 1)


class RPowScalar(Function):
    """``c ** x`` for a Python number c."""

    @staticmethod
    def forward(ctx, x, c, dtype):
        with np.errstate(**_QUIET):
            out = np.power(c, x, dtype=dtype)
            ctx.logc = np.log(np.asarray(c, dtype=dtype))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_arrays
        return g * out * ctx.logc


class Maximum(Function):
    """Elementwise max; ties split the gradient evenly (as PyTorch)."""

    @staticmethod
    def forward(ctx, a, b, dtype, fmax=True):
        out = (np.maximum if fmax else np.minimum)(a, b, dtype=dtype)
        ctx.save_for_backward(a, b)
        ctx.fmax = fmax
        ctx.shapes = (np.shape(a), np.shape(b))
        return out

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        a, b = ctx.saved_arrays
        sa, sb = ctx.shapes
        win = (a > b) if ctx.fmax else (a < b)
        share = np.where(win, 1.0, np.where(a == b, 0.5, 0.0)).astype(g.dtype)
        ga = unbroadcast(g * share, sa) if na else None
        gb = unbroadcast(g * (1 - share), sb) if nb else None
        return ga, gb


def add(a: Any, b: Any) -> Tensor:
    """``a + b`` with broadcasting."""
    return _binary(Add, a, b, "add")


def sub(a: Any, b: Any) -> Tensor:
    """``a - b`` with broadcasting."""
    return _binary(Sub, a, b, "sub")


def mul(a: Any, b: Any) -> Tensor:
    """``a * b`` with broadcasting."""
    return _binary(Mul, a, b, "mul")


def div(a: Any, b: Any) -> Tensor:
    """``a / b`` (true division; integer operands give float32)."""
    a, b = _operand(a), _operand(b)
    dtype = _dtype_of(a, b)
    if dtype.kind != "f":
        dtype = _dtype.default_float
    try:
        return Div.apply(a, b, dtype=dtype)
    except ValueError:
        broadcast_shape(np.shape(a), np.shape(b), "div")
        raise


def pow(a: Any, b: Any) -> Tensor:
    """``a ** b``; a scalar exponent or base takes a cheaper path."""
    if isinstance(a, Tensor) and _dtype.is_scalar(b):
        return PowScalar.apply(a, b, dtype=_dtype.scalar_dtype(a.dtype, b))
    if isinstance(b, Tensor) and _dtype.is_scalar(a):
        return RPowScalar.apply(b, a, dtype=_dtype.scalar_dtype(b.dtype, a))
    return _binary(Pow, a, b, "pow")


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum; at ties each operand gets half the gradient."""
    return _binary(Maximum, a, b, "maximum", fmax=True)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum; at ties each operand gets half the gradient."""
    return _binary(Maximum, a, b, "minimum", fmax=False)


# -- selection -----------------------------------------------------------------------
class Where(Function):
    @staticmethod
    def forward(ctx, x, y, cond, dtype):
        ctx.cond = cond
        ctx.shapes = (np.shape(x), np.shape(y))
        return np.where(cond, x, y).astype(dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        nx, ny = ctx.needs_input_grad
        sx, sy = ctx.shapes
        zero = np.zeros((), dtype=g.dtype)
        gx = unbroadcast(np.where(ctx.cond, g, zero), sx) if nx else None
        gy = unbroadcast(np.where(ctx.cond, zero, g), sy) if ny else None
        return gx, gy


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """``x`` where ``condition`` is true, else ``y`` (broadcast together)."""
    cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        msg = f"where: `condition` must be a bool tensor or array, got dtype {cond.dtype}"
        raise TypeError(msg)
    x, y = _operand(x), _operand(y)
    dtype = _dtype_of(x, y)
    xy = broadcast_shape(np.shape(x), np.shape(y), "where")
    broadcast_shape(cond.shape, xy, "where (`condition` vs values)")
    return Where.apply(x, y, cond=cond, dtype=dtype)
