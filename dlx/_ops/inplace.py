"""In-place ops (``add_``, ``copy_``, ``x[idx] = v``, ``+=`` ...) with PyTorch's semantics.

Outside the graph (grad mode off, or no tensor involved requires grad) an in-place op
writes into the tensor's memory and bumps its version counter. Inside the graph it is
recorded: the new contents are computed by the out-of-place op (from a snapshot of the
old values when that op saves them), then written into the tensor's memory by a node
that marks it dirty, so the tensor is rebased onto that node:

- a tensor that is not a view: :class:`Copy` (nothing flows to the overwritten values);
- a view of another tensor's memory (its ``_base``): :class:`CopySlices` rebases the base
  (the gradient of the old base is the incoming one with the view's region zeroed; the
  region's gradient flows to the new values), and the view's own history is rebuilt from
  the base on its next use (the compiled core replays its view ops).

As in PyTorch, a leaf that requires grad (or a view of one) refuses in-place ops under grad
mode, and so does a view made under ``no_grad`` of a tensor that requires grad.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

import numpy as np

from dlx._autograd import Function, TensorBase, is_grad_enabled
from dlx._ops import activation as _act
from dlx._ops import elementwise as _ew
from dlx._ops import unary as _un
from dlx._ops._common import as_tensor, is_array, value
from dlx._ops.elementwise import Where
from dlx._ops.shape import Index, index_key, sum_to
from dlx._validation import shape_str

__all__ = [
    "Copy",
    "CopySlices",
    "IndexPut",
    "add_",
    "apply_",
    "copy_",
    "div_",
    "fill_",
    "index_put",
    "index_put_",
    "inplace",
    "mul_",
    "needs_graph",
    "setitem",
    "sub_",
    "zero_",
]

_LEAF_MSG = (
    "a leaf Variable that requires grad is being used in an in-place operation; wrap the "
    "update in `with dlx.no_grad():`"
)
_LEAF_VIEW_MSG = (
    "a view of a leaf Variable that requires grad is being used in an in-place operation; "
    "wrap the update in `with dlx.no_grad():`"
)
_NO_GRAD_VIEW_MSG = (
    "a view was created in no_grad mode and is being modified in place with grad mode "
    "enabled; create the view and modify it both inside no_grad (untracked) or both "
    "outside it (tracked)"
)
_OVERLAP_MSG = (
    "unsupported operation: more than one element of the written-to tensor refers to a "
    "single memory location (an expanded tensor); clone() it before the in-place operation"
)


def replay(chain: tuple[tuple[Any, dict[str, Any]], ...], x: Any) -> Any:
    """The view that ``chain`` (a view's ``_view_chain``) takes of ``x`` (array or Tensor)."""
    for cls, kw in chain:
        x = cls.apply(x, **kw)
    return x


def _region_mask(chain: tuple[Any, ...], shape: tuple[int, ...]) -> np.ndarray:
    """Bool array of ``shape``: True on the elements the view ``chain`` selects."""
    mask = np.zeros(shape, dtype=bool)
    if len(chain) == 1 and chain[0][0] is Index:  # one slice (x[key] = v): no index array
        mask[chain[0][1]["key"]] = True
        return mask
    pos = replay(chain, np.arange(int(np.prod(shape, dtype=np.int64))).reshape(shape))
    mask.reshape(-1)[np.asarray(pos).reshape(-1)] = True
    return mask


class Copy(Function):
    """``dst`` overwritten by ``src`` (broadcast, cast): rebases ``dst`` onto this node."""

    __slots__ = ()
    double_backward = True

    @staticmethod
    def forward(ctx, dst, src):
        np.copyto(dst, src, casting="unsafe")
        ctx.mark_dirty(dst)
        return dst

    @staticmethod
    def backward(ctx, g):
        nd, ns = ctx.needs_input_grad
        gd = (np.zeros_like(g) if is_array(g) else g * 0.0) if nd else None  # overwritten
        return gd, (sum_to(g, ctx.input_shape(1)) if ns else None)


class CopySlices(Function):
    """``base`` with the region of a view of it (``region``, rebuilt by ``chain``)
    overwritten by ``src``: rebases ``base`` onto this node."""

    __slots__ = ("base_shape", "chain")
    double_backward = True

    @staticmethod
    def forward(ctx, base, src, chain, region):
        np.copyto(region, src, casting="unsafe")
        ctx.chain, ctx.base_shape = chain, base.shape
        ctx.mark_dirty(base)
        return base

    @staticmethod
    def backward(ctx, g):
        nb, ns = ctx.needs_input_grad
        gb = gs = None
        if nb:
            mask = _region_mask(ctx.chain, ctx.base_shape)
            gb = Where.apply(0.0, g, cond=mask, dtype=value(g).dtype)
        if ns:
            gs = sum_to(replay(ctx.chain, g), ctx.input_shape(1))
        return gb, gs


class IndexPut(Function):
    """Out-of-place ``x[key] = v`` (or ``+=`` with ``accumulate``) for any NumPy key."""

    __slots__ = ("accumulate", "key")
    double_backward = True

    @staticmethod
    def forward(ctx, x, v, key, accumulate):
        ctx.key, ctx.accumulate = key, accumulate
        out = np.array(x, copy=True)
        if accumulate:
            np.add.at(out, key, v)
        else:
            out[key] = v
        return out

    @staticmethod
    def backward(ctx, g):
        nx, nv = ctx.needs_input_grad
        gx = gv = None
        if nx:
            if ctx.accumulate:
                gx = g
            else:
                mask = np.zeros(g.shape, dtype=bool)
                mask[ctx.key] = True
                gx = Where.apply(0.0, g, cond=mask, dtype=value(g).dtype)
        if nv:
            gv = sum_to(Index.apply(g, key=ctx.key, scatter=True), ctx.input_shape(1))
        return gx, gv


# -- deciding and recording -------------------------------------------------------------
def needs_graph(self: Any, *operands: Any) -> bool:
    """True when an in-place op on ``self`` must be recorded (or refused)."""
    if not is_grad_enabled():
        return False
    if self.requires_grad:
        return True
    base = self._base
    if base is not None and base.requires_grad:
        return True
    return builtins.any(isinstance(o, TensorBase) and o.requires_grad for o in operands)


def check_writable(self: Any) -> None:
    """RuntimeError when ``self``'s memory cannot be written element by element."""
    a = self._data
    if not a.flags.writeable:
        if 0 in a.strides and a.size > 1:
            raise RuntimeError(_OVERLAP_MSG)
        msg = "the tensor's memory is read-only (e.g. from numpy.frombuffer); clone() it first"
        raise RuntimeError(msg)


def _check_recordable(self: Any) -> None:
    if self.requires_grad and self.is_leaf:
        raise RuntimeError(_LEAF_MSG)
    base = self._base
    if base is not None and base.requires_grad:
        if base.is_leaf:
            raise RuntimeError(_LEAF_VIEW_MSG)
        if not self.requires_grad:
            raise RuntimeError(_NO_GRAD_VIEW_MSG)


def _check_result(self: Any, out: Any, name: str, cast: bool) -> None:
    if out.shape != self.shape:
        try:
            fits = np.broadcast_shapes(out.shape, self.shape) == self.shape
        except ValueError:
            fits = False
        if not (cast and fits):
            msg = (
                f"{name}: the result of shape {shape_str(out.shape)} cannot be written into "
                f"a tensor of shape {shape_str(self.shape)}"
            )
            raise ValueError(msg)
    if not cast and not np.can_cast(out.dtype, self.dtype, "same_kind"):
        msg = f"{name}: result dtype {out.dtype} cannot be cast to the tensor's dtype {self.dtype}"
        raise TypeError(msg)


def inplace(
    self: Any,
    name: str,
    compute: Callable[[Any], Any],
    saves_self: bool = True,
    cast: bool = False,
) -> Any:
    """Write ``compute(old self)`` (a Tensor) into ``self``, recorded in the graph.

    ``saves_self``: the op saves its input for backward, so it gets a snapshot (the input
    is overwritten here). ``cast``: the result may broadcast and change kind (``copy_``).
    """
    check_writable(self)
    _check_recordable(self)
    src = _un.clone(self) if saves_self else self
    out = as_tensor(compute(src))
    _check_result(self, out, name, cast)
    base = self._base
    if base is None:
        Copy.apply(self, out)
    else:
        CopySlices.apply(base, out, chain=self._view_chain, region=self._data)
    return self


def _plain_ufunc(self: Any, ufunc: np.ufunc, other: Any, name: str) -> Any:
    check_writable(self)
    o = value(other)
    try:
        ufunc(self._data, o, out=self._data, casting="same_kind")
    except TypeError:
        dt = np.result_type(self._data, o)
        msg = f"{name}: result dtype {dt} cannot be cast to the tensor's dtype {self.dtype}"
        raise TypeError(msg) from None
    except ValueError:
        oshape = np.shape(o)
        msg = f"{name}: `other` of shape {shape_str(oshape)} cannot be broadcast to {shape_str(self.shape)}"
        raise ValueError(msg) from None
    self._bump_version()
    return self


def _scaled(other: Any, alpha: Any) -> Any:
    if alpha == 1:
        return other
    return _ew.mul(other, alpha) if isinstance(other, TensorBase) else np.asarray(other) * alpha


# -- the ops ------------------------------------------------------------------------------
def add_(self: Any, other: Any, *, alpha: Any = 1) -> Any:
    """``self += alpha * other`` in place."""
    other = _scaled(other, alpha)
    if needs_graph(self, other):
        return inplace(self, "add_", lambda s: _ew.add(s, other), saves_self=False)
    return _plain_ufunc(self, np.add, other, "add_")


def sub_(self: Any, other: Any, *, alpha: Any = 1) -> Any:
    """``self -= alpha * other`` in place."""
    other = _scaled(other, alpha)
    if needs_graph(self, other):
        return inplace(self, "sub_", lambda s: _ew.sub(s, other), saves_self=False)
    return _plain_ufunc(self, np.subtract, other, "sub_")


def mul_(self: Any, other: Any) -> Any:
    """``self *= other`` in place."""
    if needs_graph(self, other):
        return inplace(self, "mul_", lambda s: _ew.mul(s, other))
    return _plain_ufunc(self, np.multiply, other, "mul_")


def div_(self: Any, other: Any) -> Any:
    """``self /= other`` in place."""
    if needs_graph(self, other):
        return inplace(self, "div_", lambda s: _ew.div(s, other))
    return _plain_ufunc(self, np.true_divide, other, "div_")


def copy_(self: Any, src: Any, non_blocking: bool = False) -> Any:
    """Copy ``src`` (broadcast to this shape, any dtype) into this tensor's memory."""
    if needs_graph(self, src):
        return inplace(self, "copy_", lambda s: src, saves_self=False, cast=True)
    check_writable(self)
    s = value(src)
    try:
        np.copyto(self._data, s, casting="unsafe")
    except ValueError:
        msg = f"copy_: `src` of shape {shape_str(np.shape(s))} cannot be broadcast to {shape_str(self.shape)}"
        raise ValueError(msg) from None
    self._bump_version()
    return self


def fill_(self: Any, value: Any) -> Any:
    """Set every element to ``value`` (a number or a one-element tensor)."""
    if isinstance(value, TensorBase) and value._data.size != 1:
        msg = f"fill_: `value` must be a number or a one-element tensor, got shape {shape_str(value.shape)}"
        raise ValueError(msg)
    if needs_graph(self, value):
        from dlx._ops.shape import reshape

        v = reshape(value, ()) if isinstance(value, TensorBase) else as_tensor(value)
        return inplace(self, "fill_", lambda s: v, saves_self=False, cast=True)
    check_writable(self)
    self._data.fill(value._data.item() if isinstance(value, TensorBase) else value)
    self._bump_version()
    return self


def zero_(self: Any) -> Any:
    """Set every element to zero."""
    return fill_(self, 0)


def _is_view_key(key: Any) -> bool:
    """True for keys of ints, slices, None and Ellipsis (NumPy basic indexing: a view)."""
    items = key if isinstance(key, tuple) else (key,)
    for k in items:
        if k is None or k is Ellipsis or isinstance(k, slice):
            continue
        if isinstance(k, int | np.integer) and not isinstance(k, bool | np.bool_):
            continue
        return False
    return True


def setitem(self: Any, key: Any, value: Any) -> None:
    """``self[key] = value``: the gradient reaches the old values outside ``key`` and
    ``value``."""
    key = index_key(key)
    v = (
        _un.cast(value, self.dtype)
        if isinstance(value, TensorBase) and value.dtype != self.dtype
        else value
    )
    if not needs_graph(self, v):
        check_writable(self)
        self._data[key] = value._data if isinstance(value, TensorBase) else value
        self._bump_version()
        return
    if _is_view_key(key):
        items = key if isinstance(key, tuple) else (key,)
        view_key = key if Ellipsis in items else (*items, Ellipsis)  # 0-d results stay views
        region = Index.apply(self, key=view_key, scatter=False)
        copy_(region, v)
        return
    vt = as_tensor(v)
    inplace(self, "setitem", lambda s: IndexPut.apply(s, vt, key=key, accumulate=False), False)


def index_put(input: Any, indices: Any, values: Any, accumulate: bool = False) -> Any:
    """``input`` with ``input[indices] = values`` (``+=`` when ``accumulate``), out of place."""
    key = index_key(tuple(indices) if isinstance(indices, list) else indices)
    x = as_tensor(input)
    v = as_tensor(values)
    if v.dtype != x.dtype:
        v = _un.cast(v, x.dtype)
    return IndexPut.apply(x, v, key=key, accumulate=bool(accumulate))


def index_put_(self: Any, indices: Any, values: Any, accumulate: bool = False) -> Any:
    """In-place :func:`index_put`."""
    return apply_(
        self,
        "index_put_",
        lambda s: index_put(s, indices, values, accumulate),
        values,
        saves_self=False,
    )


def apply_(
    self: Any, name: str, compute: Callable[[Any], Any], *operands: Any, saves_self: bool = True
) -> Any:
    """The in-place form of an out-of-place op: ``self`` := ``compute(self)``.

    Recorded (see :func:`inplace`) when grad mode is on and ``self`` or one of the tensor
    ``operands`` requires grad; otherwise computed without a graph and copied in.
    """
    if needs_graph(self, *operands):
        return inplace(self, name, compute, saves_self=saves_self)
    check_writable(self)
    out = as_tensor(compute(self))
    _check_result(self, out, name, cast=False)
    np.copyto(self._data, out._data, casting="same_kind")
    self._bump_version()
    return self


def inplace_form(fn: Callable[..., Any], saves_self: bool = True) -> Callable[..., Any]:
    """The in-place method ``x.<op>_(...)`` of the out-of-place op ``fn(x, ...)``.

    ``saves_self``: ``fn`` saves its input for backward (the recorded form then works on a
    snapshot of the old values).
    """
    name = f"{fn.__name__}_"

    def op_(self: Any, *args: Any, **kwargs: Any) -> Any:
        tensors = [a for a in (*args, *kwargs.values()) if isinstance(a, TensorBase)]
        return apply_(self, name, lambda s: fn(s, *args, **kwargs), *tensors, saves_self=saves_self)

    op_.__name__ = op_.__qualname__ = name
    op_.__doc__ = f"In-place :func:`{fn.__name__}` (returns self)."
    return op_


# In-place forms of the core elementwise ops.
neg_ = inplace_form(_un.neg, saves_self=False)
exp_ = inplace_form(_un.exp, saves_self=False)
log_ = inplace_form(_un.log)
sqrt_ = inplace_form(_un.sqrt, saves_self=False)
abs_ = inplace_form(_un.abs)
clamp_ = inplace_form(_un.clamp)
clip_ = clamp_
pow_ = inplace_form(_ew.pow)
relu_ = inplace_form(_act.relu)
sigmoid_ = inplace_form(_act.sigmoid, saves_self=False)
tanh_ = inplace_form(_act.tanh, saves_self=False)


def reshape_(self: Any, shape: tuple[int, ...], name: str) -> Any:
    """Change ``self``'s shape in place (``unsqueeze_``, ``squeeze_``): for tensors that
    are outside the graph and are not views."""
    if is_grad_enabled() and self.requires_grad:
        if self.is_leaf:
            raise RuntimeError(_LEAF_MSG)
        msg = f"{name}: in-place shape changes of a tensor in the graph are not recorded; use the out-of-place op"
        raise RuntimeError(msg)
    if self._base is not None:
        msg = f"{name}: in-place shape changes of a view are not supported; use the out-of-place op"
        raise RuntimeError(msg)
    self._data = self._data.reshape(shape)
    return self
