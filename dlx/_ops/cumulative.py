"""Products and scans: cumsum, cumprod, prod, logsumexp.

Zeros are handled exactly (no division by zero): cumprod's gradient before the first zero
of a row is ``revcumsum(g * y) / x``, at it the cumulative products of the row with that
zero replaced by 1, and after it zero (under ``create_graph`` it is written so that its
own derivative is exact too); prod's gradient is ``y / x`` without zeros, the product of
the others at a lone zero, and zero with two or more.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx import _dtype
from dlx._autograd import Function
from dlx._ops._common import as_tensor, composite_backward, is_array, value
from dlx._ops.elementwise import Where
from dlx._ops.indexing import TakeAlong
from dlx._ops.layout import Flip
from dlx._ops.reduce import _axes, _keep, _kept_shape
from dlx._ops.shape import expand_to
from dlx._ops.unary import Exp, cast
from dlx._validation import normalize_axis

__all__ = ["cumprod", "cumsum", "logsumexp", "prod"]


class Cumsum(Function):
    __slots__ = ("dim",)
    double_backward = True

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        return np.cumsum(x, axis=dim)

    @staticmethod
    def backward(ctx, g):
        return _revcumsum(g, ctx.dim)


def _revcumsum(g: Any, dim: int) -> Any:
    """``out[i] = sum(g[i:])`` along ``dim`` (arrays or Tensors)."""
    d = (dim,)
    return Flip.apply(Cumsum.apply(Flip.apply(g, dims=d), dim=dim), dims=d)


def _along(n: int, ndim: int, dim: int) -> np.ndarray:
    shape = [1] * ndim
    shape[dim] = n
    return np.arange(n).reshape(shape)


def _cumprod_grad(x: Any, y: Any, g: Any, dim: int) -> Any:
    """Gradient of ``cumprod(x, dim)`` (output ``y``) for output gradient ``g``."""
    xv = value(x)
    zero = xv == 0
    if not zero.any():
        return _revcumsum(g * y, dim) / x
    n = xv.shape[dim]
    has = zero.any(axis=dim, keepdims=True)
    first = np.where(has, np.argmax(zero, axis=dim, keepdims=True), n)
    pos = _along(n, xv.ndim, dim)
    before, at, after = pos < first, pos == first, pos > first
    dt = value(g).dtype
    a = _revcumsum(g * y, dim) / Where.apply(x, 1.0, cond=before, dtype=dt)
    x1 = Where.apply(1.0, x, cond=at, dtype=dt)  # the first zero of each row -> 1
    y1 = Cumprod.apply(x1, dim=dim)
    if is_array(g):  # plain backward: after the first zero the gradient is exactly 0
        b = (g * y1 * (pos >= first)).sum(axis=dim, keepdims=True)
        return a * before + b * at
    # create_graph: the gradient after the zero is x_zero * (gradient of cumprod(x1)), so
    # that differentiating it again is exact as well.
    g1 = _cumprod_grad(x1, y1, g, dim)
    xz = TakeAlong.apply(x, index=np.minimum(first, n - 1), dim=dim, distinct=True)
    return a * before + g1 * at + g1 * xz * after


class Cumprod(Function):
    __slots__ = ("dim",)
    double_backward = True

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        y = np.cumprod(x, axis=dim)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return _cumprod_grad(x, y, g, ctx.dim)


class Prod(Function):
    __slots__ = ("axes",)
    double_backward = True

    @staticmethod
    def forward(ctx, x, axes, keepdims):
        ctx.axes = axes
        y = np.prod(x, axis=axes, keepdims=keepdims)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        axes = ctx.axes
        if not is_array(g):
            shape = g.shape
            return composite_backward(ctx, lambda t: _prod_by_cumprod(t, axes, shape), (x,), g)[0]
        xv, yv = x, y
        k = _kept_shape(xv.shape, axes)
        gk, yk = g.reshape(k), yv.reshape(k)
        zero = xv == 0
        if not zero.any():
            with np.errstate(invalid="ignore", divide="ignore"):
                return gk * yk / xv
        count = zero.sum(axis=axes, keepdims=True)
        others = np.prod(np.where(zero, 1, xv), axis=axes, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            grad = np.where(count == 0, yk / np.where(zero, 1, xv), 0)
        grad = np.where((count == 1) & zero, others, grad)
        return (gk * grad).astype(g.dtype, copy=False)


def _prod_by_cumprod(x: Any, axes: tuple[int, ...] | None, shape: tuple[int, ...]) -> Any:
    """``prod(x, axes)`` (of the output ``shape``) written as the last entry of a cumprod,
    for the exact second derivative at zeros."""
    if axes is None or len(axes) != 1:
        keep = [a for a in range(x.ndim) if axes is not None and a not in axes]
        red = [a for a in range(x.ndim) if a not in keep]
        t = x.permute(*keep, *red).reshape(*(x.shape[a] for a in keep), -1)
        d = t.ndim - 1
    else:
        t, d = x, axes[0]
    c = Cumprod.apply(t, dim=d)
    last = c.shape[d] - 1
    return c[(slice(None),) * d + (slice(last, last + 1),)].reshape(shape)


def _scan(cls: type[Function], input: Any, dim: int, dtype: Any) -> Any:
    x = _integers_as_int64(input, dtype)
    if x.ndim == 0:
        normalize_axis(dim, 0, "dim")
        return x.clone()
    return cls.apply(x, dim=normalize_axis(dim, x.ndim, "dim"))


def _integers_as_int64(input: Any, dtype: Any) -> Any:
    x = as_tensor(input)
    if dtype is not None:
        return cast(x, dtype)
    return cast(x, _dtype.int64) if x.dtype.kind in "biu" else x


def cumsum(input: Any, dim: int, *, dtype: Any = None) -> Any:
    """Cumulative sum along ``dim``; bool/int inputs sum to int64."""
    return _scan(Cumsum, input, dim, dtype)


def cumprod(input: Any, dim: int, *, dtype: Any = None) -> Any:
    """Cumulative product along ``dim``; bool/int inputs multiply in int64."""
    return _scan(Cumprod, input, dim, dtype)


def prod(input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Any:
    """Product of the elements over ``dim`` (all by default); bool/int inputs give int64."""
    x = _integers_as_int64(input, dtype)
    return Prod.apply(x, axes=_axes(x, dim, None), keepdims=_keep(keepdim, None))


class LogSumExp(Function):
    __slots__ = ("axes",)
    double_backward = True

    @staticmethod
    def forward(ctx, x, axes, keepdims):
        ctx.axes = axes
        kept = _kept_shape(x.shape, axes)
        m = np.amax(x, axis=axes, keepdims=True) if x.size else np.zeros(kept, x.dtype)
        m = np.where(np.isfinite(m), m, 0).astype(x.dtype)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            y = (np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True)) + m).astype(x.dtype)
        if not keepdims:
            y = y.reshape([n for i, n in enumerate(x.shape) if axes is not None and i not in axes])
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        k = _kept_shape(x.shape, ctx.axes)
        return expand_to(g.reshape(k), x.shape) * Exp.apply(x - y.reshape(k))


def logsumexp(input: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """``log(sum(exp(x)))`` over ``dim``, computed without overflow; the gradient is the
    softmax. Integer inputs give float32."""
    from dlx._ops.unary import float_input

    x = float_input(input, "logsumexp")
    return LogSumExp.apply(x, axes=_axes(x, dim, None), keepdims=_keep(keepdim, None))
