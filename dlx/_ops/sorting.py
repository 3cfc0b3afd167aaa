"""Selections along a dimension that return ``(values, indices)``: ``max``/``min`` with a
``dim``, ``sort``, ``topk``, ``kthvalue``, ``median``; plus ``argsort`` and the full
reductions ``max()``/``min()``/``median()`` (0-d values).

The pairs are named tuples (``dlx.return_types``), as in PyTorch: ``_, pred =
out.max(1)``; ``out.max(1).values``. They come from one multi-output node,
:class:`Selection`, whose int64 indices are not differentiable; the values' gradient is
placed at the selected positions (:class:`~dlx._ops.indexing.PutAlong`), so it
differentiates to any order. Full ``max()``/``min()``/``median()`` share the gradient
evenly among tied elements (PyTorch's rule). Sorts are stable; NaN sorts as the largest
value and is selected by ``max``/``min``/``median`` when present.
"""

from __future__ import annotations

import builtins
from collections import namedtuple
from typing import Any

import numpy as np

from dlx._autograd import Function, TensorBase, make_tensor
from dlx._ops._common import as_tensor
from dlx._ops.elementwise import maximum, minimum
from dlx._ops.indexing import PutAlong
from dlx._ops.reduce import Extremum, _into, _keep, amax, amin
from dlx._ops.shape import reshape
from dlx._validation import as_int, normalize_axis, pick_axis, shape_str

__all__ = [
    "argsort",
    "kthvalue",
    "max",
    "median",
    "min",
    "return_types",
    "sort",
    "topk",
]


class return_types:
    """The named tuples returned by the selections (``values``, ``indices``)."""

    max = namedtuple("max", ["values", "indices"])
    min = namedtuple("min", ["values", "indices"])
    sort = namedtuple("sort", ["values", "indices"])
    topk = namedtuple("topk", ["values", "indices"])
    kthvalue = namedtuple("kthvalue", ["values", "indices"])
    median = namedtuple("median", ["values", "indices"])


def _argsort(x: np.ndarray, dim: int, descending: bool) -> np.ndarray:
    """Stable argsort; descending keeps tied elements in their original order."""
    if not descending:
        return np.argsort(x, axis=dim, kind="stable")
    n = x.shape[dim]
    r = np.argsort(np.flip(x, dim), axis=dim, kind="stable")
    return np.flip(n - 1 - r, dim)


def _nan_first(x: np.ndarray, dim: int, idx: np.ndarray) -> np.ndarray:
    """``idx`` (keepdims) replaced by the first NaN's position where a NaN exists."""
    if x.dtype.kind != "f":
        return idx
    nan = np.isnan(x)
    has = nan.any(axis=dim, keepdims=True)
    if not has.any():
        return idx
    return np.where(has, np.argmax(nan, axis=dim, keepdims=True), idx)


def _select(x: np.ndarray, kind: str, dim: int, k: int, flag: bool) -> np.ndarray:
    """Indices (keepdims form, int64) that ``kind`` selects along ``dim``."""
    if kind == "max":
        return np.argmax(x, axis=dim, keepdims=True)
    if kind == "min":
        return np.argmin(x, axis=dim, keepdims=True)
    if kind == "sort":
        return _argsort(x, dim, flag)
    if kind == "topk":
        order = _argsort(x, dim, flag)
        return np.take(order, np.arange(k), axis=dim)
    # kthvalue / median: the k-th smallest (0-based k)
    idx = np.take(np.argpartition(x, k, axis=dim), [k], axis=dim)
    if kind == "median":
        idx = _nan_first(x, dim, idx)
    return idx


class Selection(Function):
    """Values and int64 indices selected along ``dim``; the gradient goes to the
    selected positions."""

    __slots__ = ("dim", "index", "reduced")
    double_backward = True

    @staticmethod
    def forward(ctx, x, kind, dim, keepdim, k=0, flag=False):
        idx = _select(x, kind, dim, k, flag).astype(np.int64, copy=False)
        values = np.take_along_axis(x, idx, dim)
        ctx.index, ctx.dim = idx, dim
        ctx.reduced = kind in ("max", "min", "kthvalue", "median") and not keepdim
        if ctx.reduced:
            return values.squeeze(dim), idx.squeeze(dim)
        return values, idx

    @staticmethod
    def backward(ctx, g, _g_indices):
        if ctx.reduced:
            g = g.reshape(ctx.index.shape)
        return PutAlong.apply(g, index=ctx.index, dim=ctx.dim, shape=ctx.input_shape(0))


def _selection(x: Any, kind: str, dim: Any, keepdim: bool, rt: Any, k: int = 0, flag=False):
    x = as_tensor(x)
    if x.ndim == 0:
        normalize_axis(dim, 0, "dim")
        v, i = Selection.apply(reshape(x, 1), kind=kind, dim=0, keepdim=True, k=k, flag=flag)
        if v.shape == (1,):
            v, i = reshape(v, ()), make_tensor(i._data.reshape(()))
        return rt(v, i)
    d = normalize_axis(dim, x.ndim, "dim")
    if x.shape[d] == 0 and kind not in ("sort", "topk"):
        msg = f"{kind}: cannot select along dimension {d} of size 0 (shape {shape_str(x.shape)})"
        raise ValueError(msg)
    v, i = Selection.apply(x, kind=kind, dim=d, keepdim=bool(keepdim), k=k, flag=flag)
    return rt(v, i)


def _out_pair(out: Any, res: Any) -> Any:
    if out is None:
        return res
    values, indices = out
    values.copy_(res.values.detach())
    indices.copy_(res.indices)
    return type(res)(values, indices)


def _extreme(input: Any, dim: Any, keep: bool, axis: Any, out: Any, fmax: bool) -> Any:
    if isinstance(dim, TensorBase):
        return _into(out, (maximum if fmax else minimum)(input, dim))
    d = pick_axis(axis, dim)
    if d is None:
        return (amax if fmax else amin)(input, keepdim=keep, out=out)
    rt = return_types.max if fmax else return_types.min
    return _out_pair(out, _selection(input, "max" if fmax else "min", d, keep, rt))


def max(
    input: Any,
    dim: Any = None,
    keepdim: bool = False,
    *,
    axis: Any = None,
    keepdims: Any = None,
    out: Any = None,
) -> Any:
    """Maximum: of all elements (0-d, tied maxima share the gradient) without ``dim``;
    ``(values, indices)`` along ``dim``; elementwise ``maximum`` when ``dim`` is a tensor."""
    return _extreme(input, dim, _keep(keepdim, keepdims), axis, out, True)


def min(
    input: Any,
    dim: Any = None,
    keepdim: bool = False,
    *,
    axis: Any = None,
    keepdims: Any = None,
    out: Any = None,
) -> Any:
    """Minimum: of all elements (0-d) without ``dim``; ``(values, indices)`` along ``dim``;
    elementwise ``minimum`` when ``dim`` is a tensor."""
    return _extreme(input, dim, _keep(keepdim, keepdims), axis, out, False)


def sort(input: Any, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Any:
    """``(values, indices)`` sorted along ``dim`` (always stable here)."""
    return _selection(input, "sort", dim, True, return_types.sort, flag=bool(descending))


def argsort(input: Any, dim: int = -1, descending: bool = False, *, stable: bool = False) -> Any:
    """The indices that sort ``input`` along ``dim`` (stable; int64, not differentiable)."""
    x = as_tensor(input)
    if x.ndim == 0:
        normalize_axis(dim, 0, "dim")
        return make_tensor(np.zeros((), np.int64))
    d = normalize_axis(dim, x.ndim, "dim")
    return make_tensor(_argsort(x._data, d, bool(descending)).astype(np.int64, copy=False))


def topk(input: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
    """``(values, indices)`` of the ``k`` largest (``largest=False``: smallest) elements
    along ``dim``, in order."""
    x = as_tensor(input)
    kk = as_int(k, "k")
    n = x.shape[normalize_axis(dim, x.ndim, "dim")] if x.ndim else 1
    if not 0 <= kk <= n:
        msg = f"topk: `k` must be in [0, {n}] for a dimension of size {n}, got {kk}"
        raise ValueError(msg)
    return _selection(x, "topk", dim, True, return_types.topk, k=kk, flag=bool(largest))


def kthvalue(input: Any, k: int, dim: int = -1, keepdim: bool = False) -> Any:
    """``(values, indices)`` of the ``k``-th smallest element (1-based) along ``dim``."""
    x = as_tensor(input)
    kk = as_int(k, "k")
    n = x.shape[normalize_axis(dim, x.ndim, "dim")] if x.ndim else 1
    if not 1 <= kk <= n:
        msg = f"kthvalue: `k` must be in [1, {n}] for a dimension of size {n}, got {kk}"
        raise ValueError(msg)
    return _selection(x, "kthvalue", dim, keepdim, return_types.kthvalue, k=kk - 1)


class MedianAll(Extremum):
    """The lower median of all elements (0-d); ties share the gradient evenly."""

    __slots__ = ()
    double_backward = True

    @staticmethod
    def forward(ctx, x):
        flat = x.reshape(-1)
        if x.dtype.kind == "f" and np.isnan(flat).any():
            y = np.asarray(np.nan, dtype=x.dtype)
        else:
            y = np.asarray(np.partition(flat, (flat.size - 1) // 2)[(flat.size - 1) // 2])
        ctx.save_for_backward(x, y)
        ctx.axes = None
        return y


def median(input: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """Lower median: of all elements (0-d) without ``dim``, else ``(values, indices)``."""
    x = as_tensor(input)
    if dim is None:
        if x._data.size == 0:
            msg = "median: cannot take the median of an empty tensor"
            raise ValueError(msg)
        return MedianAll.apply(x)
    d = normalize_axis(dim, builtins.max(x.ndim, 1), "dim")
    n = x.shape[d] if x.ndim else 1
    return _selection(x, "median", dim, keepdim, return_types.median, k=(n - 1) // 2)
