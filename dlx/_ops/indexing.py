"""Index-based selection and scattering: gather/scatter/scatter_add, index_select,
take_along_dim, take, masked_select/masked_fill, nonzero.

Every op is built on the indexing ops of ``dlx._ops.shape`` (``Index``: ``x[key]`` with a
scatter-add backward) and ``IndexPut`` (``x[key] = v`` out of place), or on
:class:`TakeAlong`/:class:`PutAlong` (NumPy's ``take_along_axis``/``put_along_axis``, each
the adjoint of the other), so all are differentiable to any order. Index arguments are
int64 tensors (or arrays) and are range-checked here, with a ValueError naming them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx._autograd import Function, TensorBase, make_tensor
from dlx._ops._common import as_tensor, value
from dlx._ops.elementwise import where
from dlx._ops.inplace import IndexPut, apply_
from dlx._ops.shape import Index, expand, reshape
from dlx._ops.unary import cast
from dlx._validation import normalize_axis, shape_str

__all__ = [
    "PutAlong",
    "TakeAlong",
    "argwhere",
    "gather",
    "index_select",
    "masked_fill",
    "masked_fill_",
    "masked_select",
    "nonzero",
    "scatter",
    "scatter_",
    "scatter_add",
    "scatter_add_",
    "take",
    "take_along_dim",
]


class TakeAlong(Function):
    """``np.take_along_axis(x, index, dim)`` for ``index`` of x's shape except on ``dim``;
    ``distinct``: no index repeats along ``dim`` (as from a sort), so the backward puts
    instead of adding up."""

    __slots__ = ("dim", "distinct", "index")
    double_backward = True

    @staticmethod
    def forward(ctx, x, index, dim, distinct=False):
        ctx.index, ctx.dim, ctx.distinct = index, dim, distinct
        return np.take_along_axis(x, index, dim)

    @staticmethod
    def backward(ctx, g):
        shape = ctx.input_shape(0)
        return PutAlong.apply(g, index=ctx.index, dim=ctx.dim, shape=shape, add=not ctx.distinct)


class PutAlong(Function):
    """Zeros of ``shape`` with ``g`` placed (``add``: added up, for repeated indices) at
    ``index`` along ``dim``; the adjoint of :class:`TakeAlong`."""

    __slots__ = ("add", "dim", "index")
    double_backward = True

    @staticmethod
    def forward(ctx, g, index, dim, shape, add=False):
        ctx.index, ctx.dim, ctx.add = index, dim, add
        out = np.zeros(shape, dtype=g.dtype)
        if add:
            np.add.at(out, _dim_key(index, dim), g)
        else:
            np.put_along_axis(out, index, g, dim)
        return out

    @staticmethod
    def backward(ctx, gg):
        return TakeAlong.apply(gg, index=ctx.index, dim=ctx.dim, distinct=not ctx.add)


def index_array(index: Any, name: str = "index") -> np.ndarray:
    """The integer array behind ``index`` (a Tensor, array or list); TypeError otherwise."""
    arr = np.asarray(value(index))
    if arr.dtype.kind not in "iu":
        if arr.size == 0:
            return arr.astype(np.int64)
        msg = f"`{name}` must be an integer tensor, got dtype {arr.dtype}"
        raise TypeError(msg)
    return arr


def _check_range(idx: np.ndarray, size: int, op: str, name: str = "index") -> None:
    if idx.size and (idx.min() < -size or idx.max() >= size):
        msg = (
            f"{op}: `{name}` values must lie in [{-size}, {size}) for a dimension of size "
            f"{size}, got values in [{idx.min()}, {idx.max()}]"
        )
        raise ValueError(msg)


def _dim_key(idx: np.ndarray, dim: int) -> tuple[Any, ...]:
    """A full NumPy index selecting ``x[i0, .., idx[i], .., in]`` (torch.gather's map)."""
    key: list[Any] = []
    for d, n in enumerate(idx.shape):
        if d == dim:
            key.append(idx)
        else:
            shape = [1] * idx.ndim
            shape[d] = n
            key.append(np.arange(n).reshape(shape))
    return tuple(key)


def _gather_args(x: Any, dim: Any, index: Any, op: str) -> tuple[int, np.ndarray]:
    d = normalize_axis(dim, x.ndim, "dim")
    idx = index_array(index)
    if idx.ndim != max(x.ndim, 1):
        msg = f"{op}: `index` must have as many dimensions as `input` ({x.ndim}), got {idx.ndim}"
        raise ValueError(msg)
    for k in range(x.ndim):
        if k != d and idx.shape[k] > x.shape[k]:
            msg = (
                f"{op}: `index` of shape {shape_str(idx.shape)} is larger than `input` of "
                f"shape {shape_str(x.shape)} in dimension {k}"
            )
            raise ValueError(msg)
    _check_range(idx, x.shape[d] if x.ndim else 1, op)
    return d, idx


def gather(input: Any, dim: int, index: Any, *, sparse_grad: bool = False) -> Any:
    """``out[i][j][k] = input[i][index[i][j][k]][k]`` (for ``dim=1``); ``index`` may be
    smaller than ``input`` in the other dimensions."""
    x = as_tensor(input)
    if x.ndim == 0:
        x = reshape(x, 1)
        d, idx = _gather_args(x, dim, index, "gather")
        return reshape(Index.apply(x, key=_dim_key(idx, d), scatter=True), idx.shape)
    d, idx = _gather_args(x, dim, index, "gather")
    return Index.apply(x, key=_dim_key(idx, d), scatter=True)


def _scatter(input: Any, dim: Any, index: Any, src: Any, op: str, accumulate: bool) -> Any:
    x = as_tensor(input)
    d, idx = _gather_args(x, dim, index, op)
    if isinstance(src, TensorBase | np.ndarray):
        s = as_tensor(src)
        if s.ndim != idx.ndim or any(a < b for a, b in zip(s.shape, idx.shape, strict=True)):
            msg = (
                f"{op}: `src` of shape {shape_str(s.shape)} must have the dimensions of "
                f"`index` and be at least as large, got `index` of shape {shape_str(idx.shape)}"
            )
            raise ValueError(msg)
        if s.shape != idx.shape:
            s = Index.apply(s, key=tuple(slice(0, n) for n in idx.shape), scatter=False)
        if s.dtype != x.dtype:
            s = cast(s, x.dtype)
    else:
        s = as_tensor(np.full(idx.shape, src, dtype=x.dtype))
    return IndexPut.apply(x, s, key=_dim_key(idx, d), accumulate=accumulate)


def scatter(input: Any, dim: int, index: Any, src: Any = None, *, value: Any = None) -> Any:
    """``input`` with ``out[i][index[i][j]] = src[i][j]`` (for ``dim=1``), out of place;
    ``src`` may be a number (or pass ``value=``). Repeated indices: one of the writes wins."""
    if src is None:
        if value is None:
            msg = "scatter: give `src` (a tensor or number) or `value`"
            raise TypeError(msg)
        src = value
    return _scatter(input, dim, index, src, "scatter", False)


def scatter_add(input: Any, dim: int, index: Any, src: Any) -> Any:
    """``input`` with ``src`` added at ``index`` along ``dim`` (repeated indices add up)."""
    return _scatter(input, dim, index, src, "scatter_add", True)


def scatter_(self: Any, dim: int, index: Any, src: Any = None, *, value: Any = None) -> Any:
    """In-place :func:`scatter`."""
    return apply_(
        self, "scatter_", lambda s: scatter(s, dim, index, src, value=value), src, saves_self=False
    )


def scatter_add_(self: Any, dim: int, index: Any, src: Any) -> Any:
    """In-place :func:`scatter_add`."""
    return apply_(
        self, "scatter_add_", lambda s: scatter_add(s, dim, index, src), src, saves_self=False
    )


def index_select(input: Any, dim: int, index: Any) -> Any:
    """The entries of ``input`` at the 1-D ``index`` along ``dim`` (a copy)."""
    x = as_tensor(input)
    d = normalize_axis(dim, x.ndim, "dim")
    idx = index_array(index)
    if idx.ndim > 1:
        msg = f"index_select: `index` must be 0-D or 1-D, got shape {shape_str(idx.shape)}"
        raise ValueError(msg)
    _check_range(idx, x.shape[d] if x.ndim else 1, "index_select")
    if x.ndim == 0:
        return Index.apply(reshape(x, 1), key=idx.reshape(-1), scatter=True).reshape(())
    return Index.apply(x, key=(slice(None),) * d + (idx.reshape(-1),), scatter=True)


def take(input: Any, index: Any) -> Any:
    """Elements of the flattened ``input`` at ``index`` (the result has index's shape)."""
    x = as_tensor(input)
    idx = index_array(index)
    _check_range(idx, x._data.size, "take")
    return Index.apply(reshape(x, -1), key=idx, scatter=True)


def take_along_dim(input: Any, indices: Any, dim: int | None = None) -> Any:
    """``np.take_along_axis``: ``indices`` and ``input`` broadcast except along ``dim``;
    ``dim=None`` indexes the flattened input."""
    x = as_tensor(input)
    idx = index_array(indices, "indices")
    if dim is None:
        return take(x, idx.reshape(-1))
    d = normalize_axis(dim, x.ndim, "dim")
    if idx.ndim != x.ndim:
        msg = f"take_along_dim: `indices` must have {x.ndim} dimensions, got {idx.ndim}"
        raise ValueError(msg)
    _check_range(idx, x.shape[d], "take_along_dim", "indices")
    try:
        common = np.broadcast_shapes(
            (*x.shape[:d], 1, *x.shape[d + 1 :]), (*idx.shape[:d], 1, *idx.shape[d + 1 :])
        )
    except ValueError:
        msg = (
            f"take_along_dim: `indices` of shape {shape_str(idx.shape)} and `input` of shape "
            f"{shape_str(x.shape)} cannot be broadcast outside dimension {d}"
        )
        raise ValueError(msg) from None
    xs = (*common[:d], x.shape[d], *common[d + 1 :])
    ids = (*common[:d], idx.shape[d], *common[d + 1 :])
    x = expand(x, xs)
    idx = np.broadcast_to(idx, ids)
    return TakeAlong.apply(x, index=np.where(idx < 0, idx + x.shape[d], idx), dim=d)


def _mask(mask: Any, op: str) -> np.ndarray:
    m = np.asarray(value(mask))
    if m.dtype != np.bool_:
        msg = f"{op}: `mask` must be a bool tensor, got dtype {m.dtype}"
        raise TypeError(msg)
    return m


def masked_select(input: Any, mask: Any) -> Any:
    """The elements of ``input`` where the bool ``mask`` (broadcast with it) is True, 1-D."""
    x = as_tensor(input)
    m = _mask(mask, "masked_select")
    from dlx._validation import broadcast_shape

    shape = broadcast_shape(x.shape, m.shape, "masked_select")
    if x.shape != shape:
        x = expand(x, shape)
    return Index.apply(x, key=np.broadcast_to(m, shape), scatter=False)


def masked_fill(input: Any, mask: Any, value: Any) -> Any:
    """``input`` with ``value`` (a number or a 0-d tensor) where ``mask`` is True."""
    x = as_tensor(input)
    m = _mask(mask, "masked_fill")
    from dlx._validation import broadcast_shape

    broadcast_shape(x.shape, m.shape, "masked_fill")
    if isinstance(value, TensorBase):
        if value.ndim != 0:
            msg = f"masked_fill: `value` must be a number or a 0-d tensor, got shape {shape_str(value.shape)}"
            raise ValueError(msg)
        v = cast(value, x.dtype)
    else:
        v = np.asarray(value).astype(x.dtype)
    out = where(m, v, x)
    if out.shape != x.shape:
        msg = (
            f"masked_fill: `mask` of shape {shape_str(m.shape)} cannot be broadcast to `input` "
            f"of shape {shape_str(x.shape)}"
        )
        raise ValueError(msg)
    return out


def masked_fill_(self: Any, mask: Any, value: Any) -> Any:
    """In-place :func:`masked_fill`."""
    return apply_(
        self, "masked_fill_", lambda s: masked_fill(s, mask, value), value, saves_self=False
    )


def nonzero(input: Any, *, as_tuple: bool = False) -> Any:
    """Indices of the non-zero elements: an int64 ``(n, ndim)`` tensor, or one 1-D tensor
    per dimension with ``as_tuple=True``."""
    a = np.asarray(value(as_tensor(input)))
    if as_tuple:
        if a.ndim == 0:
            return (make_tensor(np.flatnonzero(a.reshape(1)).astype(np.int64)),)
        return tuple(make_tensor(i.astype(np.int64)) for i in np.nonzero(a))
    return make_tensor(np.argwhere(a).astype(np.int64))


def argwhere(input: Any) -> Any:
    """Same as ``nonzero(input)``: an int64 ``(n, ndim)`` tensor."""
    return nonzero(input)
