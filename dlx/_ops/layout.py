"""Copies that rearrange elements: flip, roll, repeat/tile/repeat_interleave, tril/triu,
diag/diagonal/diag_embed/trace.

``repeat``, ``tile`` and ``repeat_interleave`` with an int count are a reshape, a
broadcast and a reshape (one copy, no index arrays); the other ops are small Functions
whose backward is again such an op (flip/roll invert themselves, tril/triu mask, the
diagonal extraction and embedding are adjoint), so gradients of any order work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlx._autograd import Function, make_tensor
from dlx._ops._common import as_tensor, value
from dlx._ops.indexing import index_array, index_select
from dlx._ops.shape import expand, permute, reshape
from dlx._validation import as_int, normalize_axis, shape_str

__all__ = [
    "diag",
    "diag_embed",
    "diagonal",
    "flip",
    "fliplr",
    "flipud",
    "repeat",
    "repeat_interleave",
    "roll",
    "tile",
    "trace",
    "tril",
    "triu",
]


class Flip(Function):
    __slots__ = ("dims",)
    double_backward = True

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return np.ascontiguousarray(np.flip(x, dims))

    @staticmethod
    def backward(ctx, g):
        return Flip.apply(g, dims=ctx.dims)


class Roll(Function):
    __slots__ = ("dims", "shifts")
    double_backward = True

    @staticmethod
    def forward(ctx, x, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        return np.roll(x, shifts, axis=dims)

    @staticmethod
    def backward(ctx, g):
        back = tuple(-s for s in ctx.shifts) if ctx.dims is not None else -ctx.shifts
        return Roll.apply(g, shifts=back, dims=ctx.dims)


class Triangular(Function):
    """tril/triu of the last two dimensions; the backward masks the same way."""

    __slots__ = ("k", "upper")
    double_backward = True

    @staticmethod
    def forward(ctx, x, k, upper):
        ctx.k, ctx.upper = k, upper
        return np.triu(x, k) if upper else np.tril(x, k)

    @staticmethod
    def backward(ctx, g):
        return Triangular.apply(g, k=ctx.k, upper=ctx.upper)


def _diag_index(rows: int, cols: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of diagonal ``k`` of a ``rows x cols`` matrix."""
    n = max(0, min(rows, cols - k) if k >= 0 else min(rows + k, cols))
    i = np.arange(n)
    return (i, i + k) if k >= 0 else (i - k, i)


class DiagExtract(Function):
    """Diagonal ``k`` of the last two dimensions (a copy)."""

    __slots__ = ("k",)
    double_backward = True

    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        r, c = _diag_index(x.shape[-2], x.shape[-1], k)
        return x[..., r, c]

    @staticmethod
    def backward(ctx, g):
        return DiagEmbed.apply(g, k=ctx.k, shape=ctx.input_shape(0))


class DiagEmbed(Function):
    """Zeros of ``shape`` with ``v`` (last dimension) on diagonal ``k`` of the last two."""

    __slots__ = ("k",)
    double_backward = True

    @staticmethod
    def forward(ctx, v, k, shape):
        ctx.k = k
        out = np.zeros(shape, dtype=v.dtype)
        r, c = _diag_index(shape[-2], shape[-1], k)
        out[..., r, c] = v
        return out

    @staticmethod
    def backward(ctx, g):
        return DiagExtract.apply(g, k=ctx.k)


def _dims(dims: Any, ndim: int, op: str) -> tuple[int, ...]:
    items = dims if isinstance(dims, Sequence) else (dims,)
    out = tuple(normalize_axis(d, ndim, "dims") for d in items)
    if len(set(out)) != len(out):
        msg = f"{op}: `dims` must not repeat a dimension, got {dims}"
        raise ValueError(msg)
    return out


def flip(input: Any, dims: Any) -> Any:
    """A copy with the order of elements reversed along ``dims``."""
    x = as_tensor(input)
    d = _dims(dims, x.ndim, "flip") if x.ndim else ()
    return Flip.apply(x, dims=d)


def fliplr(input: Any) -> Any:
    """Flip dimension 1 (left/right); needs at least 2 dimensions."""
    x = as_tensor(input)
    if x.ndim < 2:
        msg = f"fliplr: `input` must be at least 2-D, got {x.ndim}-D"
        raise ValueError(msg)
    return Flip.apply(x, dims=(1,))


def flipud(input: Any) -> Any:
    """Flip dimension 0 (up/down); needs at least 1 dimension."""
    x = as_tensor(input)
    if x.ndim < 1:
        msg = "flipud: `input` must be at least 1-D, got a 0-d tensor"
        raise ValueError(msg)
    return Flip.apply(x, dims=(0,))


def roll(input: Any, shifts: Any, dims: Any = None) -> Any:
    """Shift elements cyclically by ``shifts`` along ``dims`` (the flattened tensor when
    ``dims`` is None)."""
    x = as_tensor(input)
    if dims is None:
        if isinstance(shifts, Sequence):
            if len(shifts) != 1:
                msg = f"roll: without `dims`, `shifts` must be one int, got {shifts}"
                raise ValueError(msg)
            shifts = shifts[0]
        return Roll.apply(x, shifts=as_int(shifts, "shifts"), dims=None)
    d = dims if isinstance(dims, Sequence) else (dims,)
    s = shifts if isinstance(shifts, Sequence) else (shifts,)
    if len(d) != len(s):
        msg = f"roll: `shifts` and `dims` must have the same length, got {shifts} and {dims}"
        raise ValueError(msg)
    axes = tuple(normalize_axis(a, x.ndim, "dims") for a in d)
    return Roll.apply(x, shifts=tuple(as_int(v, "shifts") for v in s), dims=axes)


def _sizes(sizes: tuple[Any, ...], name: str) -> tuple[int, ...]:
    if len(sizes) == 1 and isinstance(sizes[0], Sequence | np.ndarray):
        sizes = tuple(sizes[0])
    out = tuple(as_int(s, name) for s in sizes)
    if any(s < 0 for s in out):
        msg = f"`{name}` must be non-negative, got {out}"
        raise ValueError(msg)
    return out


def repeat(input: Any, *sizes: Any) -> Any:
    """Tile the tensor ``sizes[i]`` times along each dimension (``len(sizes) >= ndim``;
    extra leading sizes add dimensions)."""
    x = as_tensor(input)
    reps = _sizes(sizes, "sizes")
    if len(reps) < x.ndim:
        msg = (
            f"repeat: `sizes` needs at least as many entries as the tensor has dimensions "
            f"({x.ndim}), got {reps}"
        )
        raise ValueError(msg)
    shape = (1,) * (len(reps) - x.ndim) + x.shape
    inter = tuple(v for n in shape for v in (1, n))
    wide = tuple(v for r, n in zip(reps, shape, strict=True) for v in (r, n))
    out = expand(reshape(x, inter), wide)
    return reshape(out, tuple(r * n for r, n in zip(reps, shape, strict=True)))


def tile(input: Any, dims: Any) -> Any:
    """``repeat`` with ``dims`` padded with leading 1s to the tensor's dimensions."""
    x = as_tensor(input)
    reps = _sizes((dims,), "dims")
    return repeat(x, (1,) * (x.ndim - len(reps)) + reps)


def repeat_interleave(
    input: Any, repeats: Any = None, dim: int | None = None, *, output_size: int | None = None
) -> Any:
    """Repeat each element ``repeats`` times (an int, or one count per element) along
    ``dim`` (of the flattened tensor when None). With only a tensor of counts, returns
    ``[0]*c0 + [1]*c1 + ...``."""
    if repeats is None:
        counts = index_array(input, "repeats")
        return make_tensor(np.repeat(np.arange(counts.size), counts.reshape(-1)).astype(np.int64))
    x = as_tensor(input)
    if dim is None:
        x, d = reshape(x, -1), 0
    else:
        d = normalize_axis(dim, x.ndim, "dim")
    n = x.shape[d] if x.ndim else 1
    if np.ndim(value(repeats)) == 0:  # one count for every element
        r = as_int(index_array(repeats, "repeats").item(), "repeats")
        if r < 0:
            msg = f"repeat_interleave: `repeats` must be non-negative, got {r}"
            raise ValueError(msg)
        if x.ndim == 0:
            x = reshape(x, 1)
        s = x.shape
        wide = expand(reshape(x, (*s[: d + 1], 1, *s[d + 1 :])), (*s[: d + 1], r, *s[d + 1 :]))
        return reshape(wide, (*s[:d], s[d] * r, *s[d + 1 :]))
    counts = index_array(repeats, "repeats").reshape(-1)
    if counts.size not in (1, n) or (counts.size and counts.min() < 0):
        msg = (
            f"repeat_interleave: `repeats` must hold one non-negative count or {n} of them, "
            f"got shape {shape_str(counts.shape)}"
        )
        raise ValueError(msg)
    return index_select(x, d, np.repeat(np.arange(n), np.broadcast_to(counts, (n,))))


def tril(input: Any, diagonal: int = 0) -> Any:
    """Zero the elements above diagonal ``diagonal`` of the last two dimensions."""
    x = as_tensor(input)
    if x.ndim < 2:
        msg = f"tril: `input` must be at least 2-D, got {x.ndim}-D"
        raise ValueError(msg)
    return Triangular.apply(x, k=as_int(diagonal, "diagonal"), upper=False)


def triu(input: Any, diagonal: int = 0) -> Any:
    """Zero the elements below diagonal ``diagonal`` of the last two dimensions."""
    x = as_tensor(input)
    if x.ndim < 2:
        msg = f"triu: `input` must be at least 2-D, got {x.ndim}-D"
        raise ValueError(msg)
    return Triangular.apply(x, k=as_int(diagonal, "diagonal"), upper=True)


def diag_embed(input: Any, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Any:
    """Matrices (the last two dimensions) with ``input``'s last dimension on diagonal
    ``offset``; only ``dim1=-2, dim2=-1`` is supported."""
    x = as_tensor(input)
    if (dim1, dim2) != (-2, -1):
        msg = f"diag_embed: only dim1=-2, dim2=-1 are supported, got {dim1}, {dim2}"
        raise ValueError(msg)
    if x.ndim < 1:
        msg = "diag_embed: `input` must be at least 1-D"
        raise ValueError(msg)
    k = as_int(offset, "offset")
    m = x.shape[-1] + abs(k)
    return DiagEmbed.apply(x, k=k, shape=(*x.shape[:-1], m, m))


def diagonal(input: Any, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Any:
    """Diagonal ``offset`` of the planes ``(dim1, dim2)`` as the last dimension (a copy)."""
    x = as_tensor(input)
    if x.ndim < 2:
        msg = f"diagonal: `input` must be at least 2-D, got {x.ndim}-D"
        raise ValueError(msg)
    a = normalize_axis(dim1, x.ndim, "dim1")
    b = normalize_axis(dim2, x.ndim, "dim2")
    if a == b:
        msg = f"diagonal: `dim1` and `dim2` must differ, got {dim1} and {dim2}"
        raise ValueError(msg)
    rest = [i for i in range(x.ndim) if i not in (a, b)]
    if (a, b) != (x.ndim - 2, x.ndim - 1):
        x = permute(x, (*rest, a, b))
    return DiagExtract.apply(x, k=as_int(offset, "offset"))


def diag(input: Any, diagonal: int = 0) -> Any:
    """A 1-D tensor -> the square matrix with it on diagonal ``diagonal``; a 2-D tensor ->
    that diagonal (a copy)."""
    x = as_tensor(input)
    k = as_int(diagonal, "diagonal")
    if x.ndim == 1:
        return diag_embed(x, k)
    if x.ndim == 2:
        return DiagExtract.apply(x, k=k)
    msg = f"diag: `input` must be 1-D or 2-D, got {x.ndim}-D"
    raise ValueError(msg)


def trace(input: Any) -> Any:
    """Sum of the main diagonal of a 2-D tensor."""
    x = as_tensor(input)
    if x.ndim != 2:
        msg = f"trace: `input` must be 2-D, got {x.ndim}-D"
        raise ValueError(msg)
    return DiagExtract.apply(x, k=0).sum()
