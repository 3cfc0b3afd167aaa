"""Shape ops: reshape/view, permute/transpose, expand, squeeze/unsqueeze/flatten, cat,
stack and indexing. Results that alias the input's memory share its version counter.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlx import _dtype
from dlx._ops.elementwise import as_tensor
from dlx._validation import as_int, normalize_axis, shape_str
from dlx.autograd.function import Function, unbroadcast
from dlx.tensor import Tensor


class Reshape(Function):
    _view_of = 0

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape)


class Permute(Function):
    _view_of = 0

    @staticmethod
    def forward(ctx, x, perm):
        ctx.inverse = tuple(np.argsort(perm))
        return x.transpose(perm)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(ctx.inverse)


class Expand(Function):
    _view_of = 0

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.in_shape)


class Cat(Function):
    @staticmethod
    def forward(ctx, *xs, axis, dtype):
        ctx.axis = axis
        ctx.bounds = np.cumsum([x.shape[axis] for x in xs])[:-1]
        return np.concatenate(xs, axis=axis, dtype=dtype, casting="same_kind")

    @staticmethod
    def backward(ctx, g):
        return tuple(np.split(g, ctx.bounds, axis=ctx.axis))


class Stack(Function):
    @staticmethod
    def forward(ctx, *xs, axis, dtype):
        ctx.axis = axis
        return np.stack(xs, axis=axis, dtype=dtype, casting="same_kind")

    @staticmethod
    def backward(ctx, g):
        return tuple(np.moveaxis(g, ctx.axis, 0))


class Index(Function):
    """``x[key]``: basic keys give a view; integer-array keys scatter-add in backward."""

    _view_of = 0

    @staticmethod
    def forward(ctx, x, key, scatter):
        ctx.in_shape, ctx.key, ctx.scatter = x.shape, key, scatter
        return x[key]

    @staticmethod
    def backward(ctx, g):
        key = ctx.key
        if type(key) is slice and key.step in (None, 1) and len(ctx.in_shape) > 0:
            # A run of leading-axis rows (an RNN's outputs without its final cell state):
            # zero only the rows outside it instead of the whole array first.
            start, stop, _ = key.indices(ctx.in_shape[0])
            stop = max(start, stop)
            gx = np.empty(ctx.in_shape, dtype=g.dtype)
            gx[:start] = 0
            gx[start:stop] = g
            gx[stop:] = 0
            return gx
        gx = np.zeros(ctx.in_shape, dtype=g.dtype)
        if ctx.scatter:
            np.add.at(gx, ctx.key, g)  # repeated indices accumulate
        else:
            gx[ctx.key] = g
        return gx


# -- functions --------------------------------------------------------------------------
def _shape_arg(shape: Sequence[Any]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], Sequence | np.ndarray):
        shape = tuple(shape[0])
    return tuple(as_int(s, "shape") for s in shape)


def _resolve_shape(x: Tensor, shape: tuple[int, ...], op: str) -> tuple[int, ...]:
    """``shape`` with one -1 inferred; ValueError naming both shapes when sizes differ."""
    if sum(s == -1 for s in shape) > 1 or any(s < -1 for s in shape):
        msg = f"{op}: `shape` may hold one -1 and otherwise non-negative sizes, got {shape}"
        raise ValueError(msg)
    known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
    size = x.data.size
    if -1 in shape:
        if known == 0 or size % known:
            msg = f"{op}: cannot reshape a tensor of shape {shape_str(x.shape)} into {shape}"
            raise ValueError(msg)
        shape = tuple(size // known if s == -1 else s for s in shape)
    elif known != size:
        msg = (
            f"{op}: cannot reshape a tensor of shape {shape_str(x.shape)} ({size} elements) "
            f"into {shape_str(shape)} ({known} elements)"
        )
        raise ValueError(msg)
    return shape


def reshape(x: Any, *shape: Any) -> Tensor:
    """Same data in a new shape (a view when possible); one size may be -1."""
    x = as_tensor(x)
    shape = _resolve_shape(x, _shape_arg(shape), "reshape")
    if shape == x.shape:
        return x
    return Reshape.apply(x, shape=shape)


def view(x: Tensor, *shape: Any) -> Tensor:
    """Like :func:`reshape` but never copies: ValueError when the strides do not allow it."""
    shape = _resolve_shape(x, _shape_arg(shape), "view")
    out = Reshape.apply(x, shape=shape)
    if out.data.size and not np.may_share_memory(out.data, x.data):
        msg = (
            f"view: a tensor of shape {shape_str(x.shape)} and strides {x.data.strides} cannot "
            f"be viewed as {shape_str(shape)} without a copy; use reshape()"
        )
        raise ValueError(msg)
    return out


def permute(x: Any, *dims: Any) -> Tensor:
    """Reorder the axes: output axis i is input axis ``dims[i]``."""
    x = as_tensor(x)
    perm = tuple(normalize_axis(d, x.ndim, "dims") for d in _shape_arg(dims))
    if sorted(perm) != list(range(x.ndim)):
        msg = f"permute: `dims` must be a permutation of the {x.ndim} axes, got {dims}"
        raise ValueError(msg)
    return Permute.apply(x, perm=perm)


def transpose(x: Any, dim0: int, dim1: int) -> Tensor:
    """Swap two axes."""
    x = as_tensor(x)
    perm = list(range(x.ndim))
    a, b = normalize_axis(dim0, x.ndim, "dim0"), normalize_axis(dim1, x.ndim, "dim1")
    perm[a], perm[b] = perm[b], perm[a]
    return Permute.apply(x, perm=tuple(perm))


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes ``start_dim..end_dim`` (inclusive) into one."""
    x = as_tensor(x)
    if x.ndim == 0:
        return reshape(x, 1)
    s = normalize_axis(start_dim, x.ndim, "start_dim")
    e = normalize_axis(end_dim, x.ndim, "end_dim")
    if s > e:
        msg = f"flatten: `start_dim` ({start_dim}) must not come after `end_dim` ({end_dim})"
        raise ValueError(msg)
    merged = int(np.prod(x.shape[s : e + 1], dtype=np.int64))
    return reshape(x, (*x.shape[:s], merged, *x.shape[e + 1 :]))


def squeeze(x: Any, dim: Any = None) -> Tensor:
    """Drop axes of length 1 (all of them, or the given ones; others are left alone)."""
    x = as_tensor(x)
    if dim is None:
        dims = {i for i, n in enumerate(x.shape) if n == 1}
    else:
        items = dim if isinstance(dim, Sequence) else (dim,)
        dims = {normalize_axis(d, x.ndim, "dim") for d in items}
        dims = {d for d in dims if x.ndim and x.shape[d] == 1}
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in dims))


def unsqueeze(x: Any, dim: int) -> Tensor:
    """Insert an axis of length 1 at ``dim`` (in ``[-ndim-1, ndim]``)."""
    x = as_tensor(x)
    d = normalize_axis(dim, x.ndim + 1, "dim")
    return reshape(x, (*x.shape[:d], 1, *x.shape[d:]))


def expand(x: Any, *sizes: Any) -> Tensor:
    """Broadcast to a larger shape without copying; -1 keeps a size."""
    x = as_tensor(x)
    shape = _shape_arg(sizes)
    lead = len(shape) - x.ndim
    if lead < 0:
        msg = f"expand: the target shape {shape} has fewer dimensions than {shape_str(x.shape)}"
        raise ValueError(msg)
    target = tuple(x.shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(shape))
    try:
        ok = np.broadcast_shapes(x.shape, target) == target
    except ValueError:
        ok = False
    if not ok:
        msg = f"expand: a tensor of shape {shape_str(x.shape)} cannot be expanded to {shape}"
        raise ValueError(msg)
    if target == x.shape:
        return x
    return Expand.apply(x, shape=target)


def broadcast_to(x: Any, shape: Any) -> Tensor:
    """NumPy-style broadcast (a view); differentiable."""
    return expand(x, _shape_arg((shape,)))


def _sequence(tensors: Any, op: str) -> list[Any]:
    if isinstance(tensors, Tensor | np.ndarray) or not isinstance(tensors, Sequence):
        msg = f"{op}: `tensors` must be a sequence of tensors, got {type(tensors).__name__}"
        raise TypeError(msg)
    if not tensors:
        msg = f"{op}: `tensors` must not be empty"
        raise ValueError(msg)
    items = [t if isinstance(t, Tensor | np.ndarray) else as_tensor(t) for t in tensors]
    return items


def _common_dtype(items: list[Any]) -> np.dtype:
    dt = items[0].dtype
    for t in items[1:]:
        dt = _dtype.binary_dtype(dt, t.dtype)
    return dt


def cat(tensors: Sequence[Any], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Concatenate along an existing axis (``dim``, or NumPy's ``axis``)."""
    items = _sequence(tensors, "cat")
    d = dim if axis is None else axis
    ref = items[0].shape
    if not ref:
        msg = "cat: 0-d tensors cannot be concatenated; use stack()"
        raise ValueError(msg)
    a = normalize_axis(d, len(ref), "dim")
    for i, t in enumerate(items):
        if len(t.shape) != len(ref) or any(
            n != m for j, (n, m) in enumerate(zip(t.shape, ref, strict=True)) if j != a
        ):
            msg = (
                f"cat: tensor {i} has shape {shape_str(t.shape)} but tensor 0 has shape "
                f"{shape_str(ref)}; they may differ only in dimension {a}"
            )
            raise ValueError(msg)
    return Cat.apply(*items, axis=a, dtype=_common_dtype(items))


def stack(tensors: Sequence[Any], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Join along a new axis (``dim``, or NumPy's ``axis``); all shapes must match."""
    items = _sequence(tensors, "stack")
    d = dim if axis is None else axis
    ref = items[0].shape
    a = normalize_axis(d, len(ref) + 1, "dim")
    for i, t in enumerate(items):
        if t.shape != ref:
            msg = f"stack: tensor {i} has shape {shape_str(t.shape)} but tensor 0 has shape {shape_str(ref)}"
            raise ValueError(msg)
    return Stack.apply(*items, axis=a, dtype=_common_dtype(items))


def index_key(key: Any) -> Any:
    """A NumPy index from a key that may hold Tensors or lists."""
    if isinstance(key, tuple):
        return tuple(index_key(k) for k in key)
    if isinstance(key, Tensor):
        key = key.data
    elif isinstance(key, list):
        key = np.asarray(key)
    if isinstance(key, np.ndarray) and key.dtype.kind not in "biu":
        msg = f"index arrays must be integer or bool, got dtype {key.dtype}"
        raise IndexError(msg)
    return key


def _scatters(key: Any) -> bool:
    """True when the key holds an integer array (indices may repeat)."""
    items = key if isinstance(key, tuple) else (key,)
    return any(isinstance(k, np.ndarray) and k.dtype.kind in "iu" for k in items)


def getitem(x: Tensor, key: Any) -> Tensor:
    """``x[key]`` for ints, slices, None, Ellipsis, integer and bool arrays."""
    key = index_key(key)
    return Index.apply(x, key=key, scatter=_scatters(key))
