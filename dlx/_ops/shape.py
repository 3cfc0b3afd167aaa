"""Shape ops: reshape/view, permute/transpose, expand and its adjoint sum_to, squeeze/
unsqueeze/flatten, cat, stack and indexing. Results that alias the input's memory share
its version counter. Every backward here is linear and written with these same ops, so
gradients of any order work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlx import _dtype
from dlx._autograd import Function, TensorBase
from dlx._ops._common import as_tensor
from dlx._validation import as_int, normalize_axis, shape_str

__all__ = [
    "broadcast_to",
    "cat",
    "expand",
    "expand_to",
    "flatten",
    "getitem",
    "index_key",
    "permute",
    "reshape",
    "squeeze",
    "stack",
    "sum_to",
    "transpose",
    "unsqueeze",
    "view",
]


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes NumPy broadcasting added or stretched, down to ``shape``."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1
    )
    if axes:
        grad = grad.sum(axis=axes)
    return grad.reshape(shape)


class Reshape(Function):
    __slots__ = ("in_shape",)
    _view_of = 0
    double_backward = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape)


class Permute(Function):
    __slots__ = ("inverse",)
    _view_of = 0
    double_backward = True

    @staticmethod
    def forward(ctx, x, perm):
        ctx.inverse = tuple(np.argsort(perm).tolist())
        return x.transpose(perm)

    @staticmethod
    def backward(ctx, g):
        return Permute.apply(g, perm=ctx.inverse)


class Expand(Function):
    """Broadcast to a larger shape (a view); the adjoint of :class:`SumTo`."""

    __slots__ = ("in_shape",)

    _view_of = 0
    double_backward = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return sum_to(g, ctx.in_shape)


class SumTo(Function):
    """Sum over broadcast axes down to ``shape``; the adjoint of :class:`Expand`."""

    __slots__ = ("in_shape",)

    double_backward = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return unbroadcast(x, shape)

    @staticmethod
    def backward(ctx, g):
        return expand_to(g, ctx.in_shape)


def sum_to(g: Any, shape: tuple[int, ...]) -> Any:
    """``g`` summed down to ``shape`` (arrays or Tensors; ``g`` itself when it fits)."""
    return g if g.shape == shape else SumTo.apply(g, shape=shape)


def expand_to(g: Any, shape: tuple[int, ...]) -> Any:
    """``g`` broadcast to ``shape`` (arrays or Tensors; ``g`` itself when it fits)."""
    return g if g.shape == shape else Expand.apply(g, shape=shape)


class Cat(Function):
    __slots__ = ("axis", "bounds")
    double_backward = True

    @staticmethod
    def forward(ctx, *xs, axis, dtype):
        ctx.axis = axis
        ctx.bounds = np.cumsum([0] + [x.shape[axis] for x in xs]).tolist()
        return np.concatenate(xs, axis=axis, dtype=dtype, casting="same_kind")

    @staticmethod
    def backward(ctx, g):
        lead = (slice(None),) * ctx.axis
        b = ctx.bounds
        return tuple(g[(*lead, slice(b[i], b[i + 1]))] for i in range(len(b) - 1))


class Stack(Function):
    __slots__ = ("axis", "n")
    double_backward = True

    @staticmethod
    def forward(ctx, *xs, axis, dtype):
        ctx.axis, ctx.n = axis, len(xs)
        return np.stack(xs, axis=axis, dtype=dtype, casting="same_kind")

    @staticmethod
    def backward(ctx, g):
        lead = (slice(None),) * ctx.axis
        return tuple(g[(*lead, i)] for i in range(ctx.n))


class Index(Function):
    """``x[key]``: basic keys give a view; integer-array keys scatter-add in backward."""

    __slots__ = ("in_shape", "key", "scatter")

    _view_of = 0
    double_backward = True

    @staticmethod
    def forward(ctx, x, key, scatter):
        ctx.in_shape, ctx.key, ctx.scatter = x.shape, key, scatter
        return x[key]

    @staticmethod
    def backward(ctx, g):
        return IndexBackward.apply(g, key=ctx.key, scatter=ctx.scatter, shape=ctx.in_shape)


class IndexBackward(Function):
    """Zeros of ``shape`` with ``g`` added at ``key`` (the adjoint of :class:`Index`)."""

    __slots__ = ("key", "scatter")

    double_backward = True

    @staticmethod
    def forward(ctx, g, key, scatter, shape):
        ctx.key, ctx.scatter = key, scatter
        if type(key) is slice and key.step in (None, 1) and len(shape) > 0:
            # A run of leading-axis rows (an RNN's outputs without its final cell state):
            # zero only the rows outside it instead of the whole array first.
            start, stop, _ = key.indices(shape[0])
            stop = max(start, stop)
            gx = np.empty(shape, dtype=g.dtype)
            gx[:start] = 0
            gx[start:stop] = g
            gx[stop:] = 0
            return gx
        gx = np.zeros(shape, dtype=g.dtype)
        if scatter:
            np.add.at(gx, key, g)  # repeated indices accumulate
        else:
            gx[key] = g
        return gx

    @staticmethod
    def backward(ctx, gg):
        return Index.apply(gg, key=ctx.key, scatter=ctx.scatter)


# -- functions --------------------------------------------------------------------------
def _shape_arg(shape: Sequence[Any]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], Sequence | np.ndarray):
        shape = tuple(shape[0])
    return tuple(as_int(s, "shape") for s in shape)


def _resolve_shape(x: Any, shape: tuple[int, ...], op: str) -> tuple[int, ...]:
    """``shape`` with one -1 inferred; ValueError naming both shapes when sizes differ."""
    if sum(s == -1 for s in shape) > 1 or any(s < -1 for s in shape):
        msg = f"{op}: `shape` may hold one -1 and otherwise non-negative sizes, got {shape}"
        raise ValueError(msg)
    known = int(np.prod([s for s in shape if s != -1], dtype=np.int64))
    size = x._data.size
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


def reshape(input: Any, *shape: Any) -> Any:
    """Same data in a new shape (a view when possible); one size may be -1."""
    x = as_tensor(input)
    s = _resolve_shape(x, _shape_arg(shape), "reshape")
    if s == x.shape:
        return x
    return Reshape.apply(x, shape=s)


def view(input: Any, *shape: Any) -> Any:
    """Like :func:`reshape` but never copies: ValueError when the strides do not allow it."""
    x = as_tensor(input)
    s = _resolve_shape(x, _shape_arg(shape), "view")
    out = Reshape.apply(x, shape=s)
    if out._data.size and not np.may_share_memory(out._data, x._data):
        msg = (
            f"view: a tensor of shape {shape_str(x.shape)} and strides {x._data.strides} cannot "
            f"be viewed as {shape_str(s)} without a copy; use reshape()"
        )
        raise ValueError(msg)
    return out


def permute(input: Any, *dims: Any) -> Any:
    """Reorder the axes: output axis i is input axis ``dims[i]``."""
    x = as_tensor(input)
    perm = tuple(normalize_axis(d, x.ndim, "dims") for d in _shape_arg(dims))
    if sorted(perm) != list(range(x.ndim)):
        msg = f"permute: `dims` must be a permutation of the {x.ndim} axes, got {dims}"
        raise ValueError(msg)
    return Permute.apply(x, perm=perm)


def transpose(input: Any, dim0: int, dim1: int) -> Any:
    """Swap two axes."""
    x = as_tensor(input)
    perm = list(range(x.ndim))
    a, b = normalize_axis(dim0, x.ndim, "dim0"), normalize_axis(dim1, x.ndim, "dim1")
    perm[a], perm[b] = perm[b], perm[a]
    return Permute.apply(x, perm=tuple(perm))


def flatten(input: Any, start_dim: int = 0, end_dim: int = -1) -> Any:
    """Merge axes ``start_dim..end_dim`` (inclusive) into one."""
    x = as_tensor(input)
    if x.ndim == 0:
        return reshape(x, 1)
    s = normalize_axis(start_dim, x.ndim, "start_dim")
    e = normalize_axis(end_dim, x.ndim, "end_dim")
    if s > e:
        msg = f"flatten: `start_dim` ({start_dim}) must not come after `end_dim` ({end_dim})"
        raise ValueError(msg)
    merged = int(np.prod(x.shape[s : e + 1], dtype=np.int64))
    return reshape(x, (*x.shape[:s], merged, *x.shape[e + 1 :]))


def squeeze(input: Any, dim: Any = None) -> Any:
    """Drop axes of length 1 (all of them, or the given ones; others are left alone)."""
    x = as_tensor(input)
    if dim is None:
        dims = {i for i, n in enumerate(x.shape) if n == 1}
    else:
        items = dim if isinstance(dim, Sequence) else (dim,)
        dims = {normalize_axis(d, x.ndim, "dim") for d in items}
        dims = {d for d in dims if x.ndim and x.shape[d] == 1}
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in dims))


def unsqueeze(input: Any, dim: int) -> Any:
    """Insert an axis of length 1 at ``dim`` (in ``[-ndim-1, ndim]``)."""
    x = as_tensor(input)
    d = normalize_axis(dim, x.ndim + 1, "dim")
    return reshape(x, (*x.shape[:d], 1, *x.shape[d:]))


def expand(input: Any, *sizes: Any) -> Any:
    """Broadcast to a larger shape without copying; -1 keeps a size."""
    x = as_tensor(input)
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


def expand_as(input: Any, other: Any) -> Any:
    """Broadcast to ``other``'s shape."""
    return expand(input, tuple(other.shape))


def broadcast_to(input: Any, shape: Any) -> Any:
    """NumPy-style broadcast (a view); differentiable."""
    return expand(input, _shape_arg((shape,)))


def _sequence(tensors: Any, op: str) -> list[Any]:
    if isinstance(tensors, TensorBase | np.ndarray) or not isinstance(tensors, Sequence):
        msg = f"{op}: `tensors` must be a sequence of tensors, got {type(tensors).__name__}"
        raise TypeError(msg)
    if not tensors:
        msg = f"{op}: `tensors` must not be empty"
        raise ValueError(msg)
    return [as_tensor(t) for t in tensors]


def _common_dtype(items: list[Any]) -> np.dtype:
    dt = items[0].dtype
    for t in items[1:]:
        dt = _dtype.binary_dtype(dt, t.dtype)
    return dt


def cat(tensors: Sequence[Any], dim: int = 0, *, axis: int | None = None) -> Any:
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


def stack(tensors: Sequence[Any], dim: int = 0, *, axis: int | None = None) -> Any:
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
    if isinstance(key, TensorBase):
        key = key._data
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


def _int(k: Any) -> bool:
    return isinstance(k, int | np.integer) and not isinstance(k, bool | np.bool_)


def getitem(input: Any, key: Any) -> Any:
    """``x[key]`` for ints, slices, None, Ellipsis, integer and bool arrays."""
    key = index_key(key)
    # One int per axis selects an element: with a trailing Ellipsis NumPy returns a 0-d
    # view instead of a scalar copy, so the element is a view (as in PyTorch).
    if _int(key):
        if input.ndim == 1:
            key = (key, Ellipsis)
    elif type(key) is tuple and len(key) == input.ndim and all(_int(k) for k in key):
        key = (*key, Ellipsis)
    return Index.apply(input, key=key, scatter=_scatters(key))
