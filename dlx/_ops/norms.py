"""Norms: ``norm`` (PyTorch's ``torch.norm``), ``linalg.vector_norm``, ``matrix_norm``
and ``linalg.norm``.

Vector p-norms for p > 0 are one op (:class:`PNorm`) whose gradient is 0 where the norm
is 0 and, for p < 2, where an element is 0 (PyTorch's convention); the inf, -inf and 0
norms are the max/min of ``abs`` (ties share the gradient) and the non-zero count (zero
gradient). Matrix norms: ``"fro"``, and 1/-1/inf/-inf (max/min of absolute column or row
sums). The singular-value norms (2, -2, ``"nuc"``) are not implemented.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from dlx._autograd import Function
from dlx._ops._common import as_tensor, value
from dlx._ops.elementwise import Where
from dlx._ops.math import sign
from dlx._ops.reduce import _axes, _kept_shape, amax, amin, sum
from dlx._ops.shape import expand_to
from dlx._ops.unary import Abs, abs, cast, float_input
from dlx._validation import normalize_axis

__all__ = ["matrix_norm", "norm", "vector_norm"]


class PNorm(Function):
    """``(sum |x|^p)^(1/p)`` over ``axes`` for a finite p > 0."""

    __slots__ = ("axes", "p")
    double_backward = True

    @staticmethod
    def forward(ctx, x, p, axes, keepdims):
        ctx.p, ctx.axes = p, axes
        a = np.abs(x)
        if p == 2:
            y = np.sqrt(np.sum(a * a, axis=axes, keepdims=keepdims))
        elif p == 1:
            y = np.sum(a, axis=axes, keepdims=keepdims)
        else:
            with np.errstate(over="ignore", divide="ignore"):
                y = np.power(np.sum(np.power(a, p), axis=axes, keepdims=keepdims), 1.0 / p)
        y = np.asarray(y, dtype=x.dtype)
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        p = ctx.p
        k = _kept_shape(value(x).shape, ctx.axes)
        yk, gk = y.reshape(k), expand_to(g.reshape(k), value(x).shape)
        dt = value(g).dtype
        live = value(yk) != 0
        if p == 1:
            return gk * np.sign(value(x)).astype(dt) * live
        if p == 2:
            return gk * x / Where.apply(yk, 1.0, cond=live, dtype=dt) * live
        nz = value(x) != 0
        xs = Where.apply(x, 1.0, cond=nz, dtype=dt)  # no inf from |0|^(p-2)
        t = Where.apply(xs * Abs.apply(xs) ** (p - 2), 0.0, cond=nz, dtype=dt)
        return gk * t / Where.apply(yk ** (p - 1), 1.0, cond=live, dtype=dt) * live


def _ord(ord: Any) -> float:
    if isinstance(ord, bool) or not isinstance(ord, int | float | np.integer | np.floating):
        msg = f"`ord` must be a number (inf and -inf included), got {ord!r}"
        raise TypeError(msg)
    return float(ord)


def vector_norm(
    x: Any, ord: Any = 2, dim: Any = None, keepdim: bool = False, *, dtype: Any = None
) -> Any:
    """The ``ord``-norm of the elements over ``dim`` (all by default), the input flattened."""
    t = float_input(x, "vector_norm") if dtype is None else cast(as_tensor(x), dtype)
    p = _ord(ord)
    axes = _axes(t, dim, None)
    keep = bool(keepdim)
    if p == math.inf:
        return amax(abs(t), dim=axes, keepdim=keep)
    if p == -math.inf:
        return amin(abs(t), dim=axes, keepdim=keep)
    if p == 0:
        return sum(sign(abs(t)), dim=axes, keepdim=keep)
    if p > 0:
        return PNorm.apply(t, p=p, axes=axes, keepdims=keep)
    return sum(abs(t) ** p, dim=axes, keepdim=keep) ** (1.0 / p)


def _two_dims(dim: Any, ndim: int, op: str) -> tuple[int, int]:
    if not isinstance(dim, Sequence) or len(dim) != 2:
        msg = f"{op}: `dim` must be a pair of dimensions, got {dim!r}"
        raise ValueError(msg)
    a, b = (normalize_axis(d, ndim, "dim") for d in dim)
    if a == b:
        msg = f"{op}: `dim` must name two different dimensions, got {dim!r}"
        raise ValueError(msg)
    return a, b


def matrix_norm(
    A: Any, ord: Any = "fro", dim: Any = (-2, -1), keepdim: bool = False, *, dtype: Any = None
) -> Any:
    """Matrix norm over the two dimensions ``dim``: ``"fro"``, 1, -1, inf or -inf."""
    t = float_input(A, "matrix_norm") if dtype is None else cast(as_tensor(A), dtype)
    if t.ndim < 2:
        msg = f"matrix_norm: `A` must be at least 2-D, got {t.ndim}-D"
        raise ValueError(msg)
    r, c = _two_dims(dim, t.ndim, "matrix_norm")
    keep = bool(keepdim)
    if ord == "fro":
        return PNorm.apply(t, p=2.0, axes=tuple(sorted((r, c))), keepdims=keep)
    if isinstance(ord, str) or _ord(ord) not in (1.0, -1.0, math.inf, -math.inf):
        msg = (
            f"matrix_norm: `ord` must be 'fro', 1, -1, inf or -inf (the singular-value norms "
            f"2, -2 and 'nuc' are not implemented), got {ord!r}"
        )
        raise ValueError(msg)
    p = _ord(ord)
    # 1-norms: largest absolute column sum (sum over rows); inf-norms: row sums.
    over, then = (r, c) if abs(p) == 1 else (c, r)
    sums = sum(abs(t), dim=over, keepdim=True)
    pick = amax if p > 0 else amin
    out = pick(sums, dim=then, keepdim=True)
    if not keep:
        out = out.squeeze((r, c))
    return out


def norm(
    input: Any, p: Any = "fro", dim: Any = None, keepdim: bool = False, dtype: Any = None
) -> Any:
    """PyTorch's ``torch.norm``: ``"fro"`` or a number p gives the vector norm over
    ``dim`` (all elements by default); ``"nuc"`` is not implemented."""
    if p == "fro" or p is None:
        return vector_norm(input, 2, dim, keepdim, dtype=dtype)
    if isinstance(p, str):
        msg = f"norm: `p` must be 'fro' or a number ('nuc' is not implemented), got {p!r}"
        raise ValueError(msg)  # noqa: TRY004 - a bad value of the string kind
    return vector_norm(input, p, dim, keepdim, dtype=dtype)


def linalg_norm(
    A: Any, ord: Any = None, dim: Any = None, keepdim: bool = False, *, dtype: Any = None
) -> Any:
    """``torch.linalg.norm``: the 2-norm of the flattened input by default; a vector norm
    over an int ``dim`` (or of a 1-D input), a matrix norm over a pair (or of a 2-D input)."""
    t = as_tensor(A)
    if dim is None and ord is not None:
        if t.ndim not in (1, 2):
            msg = f"linalg.norm: with `ord` and no `dim`, `A` must be 1-D or 2-D, got {t.ndim}-D"
            raise ValueError(msg)
        dim = (0, 1) if t.ndim == 2 else 0
    if dim is not None and isinstance(dim, Sequence) and len(dim) == 2:
        return matrix_norm(t, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
    return vector_norm(t, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
