"""``dlx.Tensor``: the compiled core's tensor with dlx's op methods.

Storage, gradient, version counter and graph node live in the compiled
``dlx._autograd.TensorBase``; this class adds the methods. Every op is defined once, in
``dlx._ops`` (or ``dlx.nn.functional``), and the method here *is* that function:
``Tensor.tanh is dlx.tanh``. ``.data`` and ``.grad`` are Tensors (PyTorch's meaning);
``.numpy()`` gives the array without a copy.
"""

from __future__ import annotations

import builtins
import copy
from collections.abc import Iterator
from typing import Any

import numpy as np

from dlx import _dtype
from dlx._autograd import (
    TensorBase,
    _register_operators,
    _register_tensor_class,
    is_grad_enabled,
)
from dlx._device import check_device
from dlx._ops import activation as _act
from dlx._ops import elementwise as _ew
from dlx._ops import linalg as _la
from dlx._ops import reduce as _red
from dlx._ops import shape as _shape
from dlx._ops import unary as _un
from dlx._validation import shape_str

__all__ = ["Tensor"]


def _rebuild(
    cls: type[Tensor], data: np.ndarray, requires_grad: bool, state: dict[str, Any]
) -> Tensor:
    t = cls.__new__(cls)
    Tensor.__init__(t, data)
    t.requires_grad = requires_grad
    if state:
        t.__dict__.update(state)
    return t


# NumPy ufuncs called on Tensors that dlx has as differentiable ops (``array + tensor``,
# ``np.exp(tensor)``): they run the dlx op and return a Tensor.
_UFUNC_OPS: dict[Any, Any] = {
    np.add: _ew.add,
    np.subtract: _ew.sub,
    np.multiply: _ew.mul,
    np.true_divide: _ew.div,
    np.power: _ew.pow,
    np.matmul: _la.matmul,
    np.maximum: _ew.maximum,
    np.minimum: _ew.minimum,
    np.negative: _un.neg,
    np.exp: _un.exp,
    np.log: _un.log,
    np.sqrt: _un.sqrt,
    np.absolute: _un.abs,
    np.tanh: _act.tanh,
}


def _cmp(ufunc: np.ufunc, a: Tensor, b: Any) -> Tensor:
    """Elementwise comparison: a bool tensor outside the graph."""
    other = b._data if isinstance(b, TensorBase) else b
    if getattr(type(other), "__array_ufunc__", True) is None:
        return NotImplemented  # e.g. pytest.approx: let it compare
    return Tensor(np.asarray(ufunc(a._data, other)))


class Tensor(TensorBase):
    """An n-dimensional array with reverse-mode automatic differentiation.

    Parameters
    ----------
    data : array_like
        Values. NumPy arrays are wrapped without a copy when ``dtype`` allows; Python
        floats become float32, Python ints int64.
    requires_grad : bool
        Record ops on this tensor so ``backward`` can compute its gradient (floating
        dtypes only).
    dtype : numpy dtype, optional
        Convert the data to this dtype.
    """

    __hash__ = object.__hash__  # identity, although == is elementwise

    def __init__(self, data: Any = None, requires_grad: bool = False, dtype: Any = None) -> None:
        if isinstance(data, TensorBase):
            data = data._data
        elif data is None:
            data = np.empty((0,), dtype=_dtype.default_float)
        dt = None if dtype is None else _dtype.as_dtype(dtype)
        self._data = _dtype.array_from(data, dt, copy=False)
        if requires_grad:
            self.requires_grad = True

    # -- array-like helpers -------------------------------------------------------------
    def size(self, dim: int | None = None) -> Any:
        """Shape, or the size of one dimension (PyTorch spelling)."""
        return self._data.shape if dim is None else self._data.shape[dim]

    def dim(self) -> int:
        """Number of dimensions (PyTorch spelling)."""
        return int(self._data.ndim)

    def numel(self) -> int:
        """Number of elements."""
        return int(self._data.size)

    def __len__(self) -> int:
        if self._data.ndim == 0:
            msg = "len() of a 0-d tensor"
            raise TypeError(msg)
        return int(self._data.shape[0])

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if copy:
            return np.array(self._data, dtype=dtype)
        return np.asarray(self._data, dtype=dtype)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """NumPy ufuncs on Tensors: dlx's op (a Tensor) where dlx has it, else NumPy's
        result (an array) computed on the values; the latter refuses tensors that require
        grad under grad mode, since the result would silently drop their gradient."""
        if method == "__call__" and not kwargs:
            op = _UFUNC_OPS.get(ufunc)
            if op is not None:
                return op(*inputs)
        if is_grad_enabled():
            for x in (*inputs, *kwargs.get("out", ())):
                if isinstance(x, TensorBase) and x.requires_grad:
                    msg = (
                        f"numpy.{ufunc.__name__} cannot differentiate through a tensor that "
                        f"requires grad; use the dlx op, or .detach().numpy() for the values"
                    )
                    raise TypeError(msg)
        args = [x._data if isinstance(x, TensorBase) else x for x in inputs]
        if "out" in kwargs:
            outs = kwargs["out"]
            kwargs["out"] = tuple(x._data if isinstance(x, TensorBase) else x for x in outs)
            for x in outs:
                if isinstance(x, TensorBase):
                    x._bump_version()
        return getattr(ufunc, method)(*args, **kwargs)

    def item(self) -> Any:
        """The single element as a Python number."""
        if self._data.size != 1:
            msg = f"item(): the tensor must have exactly one element, got shape {shape_str(self.shape)}"
            raise ValueError(msg)
        return self._data.item()

    def tolist(self) -> Any:
        """Nested Python lists of the values."""
        return self._data.tolist()

    def __bool__(self) -> bool:
        return bool(self._data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            msg = "only integer tensors of a single element can be converted to an index"
            raise TypeError(msg)
        return int(self._data.item())

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="tensor(")
        extras = [body]
        if self._data.dtype not in (_dtype.float32, _dtype.int64, _dtype.bool_):
            extras.append(f"dtype={self._data.dtype}")
        fn = self.grad_fn
        if fn is not None:
            extras.append(f"grad_fn=<{fn.name()}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join(extras) + ")"

    def __reduce_ex__(self, protocol: Any) -> Any:
        if self.grad_fn is not None:
            msg = "only leaf tensors can be pickled; detach() first"
            raise RuntimeError(msg)
        state = getattr(self, "__dict__", None) or {}
        return (_rebuild, (type(self), self._data, self.requires_grad, state))

    def __deepcopy__(self, memo: dict[int, Any]) -> Tensor:
        if self.grad_fn is not None:
            msg = "only leaf tensors support deepcopy; detach() first"
            raise RuntimeError(msg)
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        Tensor.__init__(new, self._data.copy())
        new.requires_grad = self.requires_grad
        g = self.grad
        if g is not None:
            new.grad = Tensor(g._data.copy())
        if getattr(self, "__dict__", None):
            new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return new

    # -- operators: + - * / ** @, unary -, abs() and indexing are slots of the compiled
    # base, calling the dlx._ops functions registered at the end of this module --------
    def __pos__(self) -> Tensor:
        return self

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return _cmp(np.equal, self, other)

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return _cmp(np.not_equal, self, other)

    def __lt__(self, other: Any) -> Tensor:
        return _cmp(np.less, self, other)

    def __le__(self, other: Any) -> Tensor:
        return _cmp(np.less_equal, self, other)

    def __gt__(self, other: Any) -> Tensor:
        return _cmp(np.greater, self, other)

    def __ge__(self, other: Any) -> Tensor:
        return _cmp(np.greater_equal, self, other)

    # -- math ----------------------------------------------------------------------------
    add = _ew.add
    sub = _ew.sub
    mul = _ew.mul
    div = _ew.div
    pow = _ew.pow
    maximum = _ew.maximum
    minimum = _ew.minimum
    matmul = _la.matmul
    neg = _un.neg
    exp = _un.exp
    log = _un.log
    sqrt = _un.sqrt
    abs = _un.abs
    clamp = _un.clamp
    clip = _un.clamp
    relu = _act.relu
    sigmoid = _act.sigmoid
    tanh = _act.tanh
    softmax = _act.softmax
    log_softmax = _act.log_softmax

    # -- reductions ----------------------------------------------------------------------
    sum = _red.sum
    mean = _red.mean
    max = _red.amax
    min = _red.amin
    amax = _red.amax
    amin = _red.amin
    var = _red.var
    std = _red.std
    argmax = _red.argmax
    argmin = _red.argmin
    all = _red.all
    any = _red.any

    # -- shape ---------------------------------------------------------------------------
    reshape = _shape.reshape
    view = _shape.view
    permute = _shape.permute
    transpose = _shape.transpose
    flatten = _shape.flatten
    squeeze = _shape.squeeze
    unsqueeze = _shape.unsqueeze
    expand = _shape.expand
    expand_as = _shape.expand_as
    broadcast_to = _shape.broadcast_to

    @property
    def T(self) -> Tensor:
        """All axes reversed."""
        return _shape.permute(self, *range(self.ndim - 1, -1, -1))  # type: ignore[no-any-return]

    # -- conversions ---------------------------------------------------------------------
    def to(self, *args: Any, dtype: Any = None, device: Any = None, copy: bool = False) -> Tensor:
        """Convert the dtype (differentiable); the CPU is the only device."""
        for a in args:
            if isinstance(a, TensorBase):
                dtype = a.dtype
            elif isinstance(a, str) or type(a).__name__ == "device":
                device = a
            else:
                dtype = a
        check_device(device)
        if dtype is None:
            return _un.clone(self) if copy else self  # type: ignore[no-any-return]
        out = _un.cast(self, dtype)
        return _un.clone(out) if copy and out is self else out  # type: ignore[no-any-return]

    def float(self) -> Tensor:
        """As float32."""
        return _un.cast(self, np.float32)  # type: ignore[no-any-return]

    def double(self) -> Tensor:
        """As float64."""
        return _un.cast(self, np.float64)  # type: ignore[no-any-return]

    def long(self) -> Tensor:
        """As int64 (not differentiable)."""
        return _un.cast(self, np.int64)  # type: ignore[no-any-return]

    clone = _un.clone

    def contiguous(self) -> Tensor:
        """Self when C-contiguous, else a C-ordered differentiable copy."""
        if self._data.flags.c_contiguous:
            return self
        return _un.clone(self)  # type: ignore[no-any-return]

    # -- in-place ops (not recorded: allowed outside the graph or under no_grad) ---------
    def _check_inplace(self, other: Any = None) -> None:
        if not is_grad_enabled():
            return
        if self.requires_grad:
            if self.grad_fn is None:
                msg = (
                    "a leaf tensor that requires grad is being used in an in-place operation; "
                    "wrap the update in `with dlx.no_grad():`"
                )
            else:
                msg = (
                    "in-place operations on tensors that are part of the autograd graph are not "
                    "recorded by dlx; use the out-of-place op (x = x + y) or dlx.no_grad()"
                )
            raise RuntimeError(msg)
        if isinstance(other, TensorBase) and other.requires_grad:
            msg = "in-place operations with an operand that requires grad are not recorded by dlx"
            raise RuntimeError(msg)

    def _inplace(self, ufunc: np.ufunc, other: Any, name: str) -> Tensor:
        self._check_inplace(other)
        o = other._data if isinstance(other, TensorBase) else other
        try:
            ufunc(self._data, o, out=self._data, casting="same_kind")
        except ValueError:
            oshape = np.shape(o)
            try:
                fits = np.broadcast_shapes(oshape, self.shape) == self.shape
            except ValueError:
                fits = False
            if not fits:
                msg = f"{name}: `other` of shape {shape_str(oshape)} cannot be broadcast to {shape_str(self.shape)}"
                raise ValueError(msg) from None
            raise
        self._bump_version()
        return self

    def add_(self, other: Any, alpha: builtins.float = 1) -> Tensor:
        """``self += alpha * other`` in place."""
        if alpha != 1:
            other = (other._data if isinstance(other, TensorBase) else np.asarray(other)) * alpha
        return self._inplace(np.add, other, "add_")

    def sub_(self, other: Any, alpha: builtins.float = 1) -> Tensor:
        """``self -= alpha * other`` in place."""
        if alpha != 1:
            other = (other._data if isinstance(other, TensorBase) else np.asarray(other)) * alpha
        return self._inplace(np.subtract, other, "sub_")

    def mul_(self, other: Any) -> Tensor:
        """``self *= other`` in place."""
        return self._inplace(np.multiply, other, "mul_")

    def div_(self, other: Any) -> Tensor:
        """``self /= other`` in place."""
        return self._inplace(np.true_divide, other, "div_")

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:
        """Clip the values to ``[min, max]`` in place."""
        self._check_inplace()
        np.clip(self._data, min, max, out=self._data)
        self._bump_version()
        return self

    def fill_(self, value: Any) -> Tensor:
        """Set every element to ``value``."""
        self._check_inplace(value)
        self._data.fill(value.numpy().item() if isinstance(value, TensorBase) else value)
        self._bump_version()
        return self

    def zero_(self) -> Tensor:
        """Set every element to zero."""
        return self.fill_(0)

    def copy_(self, src: Any) -> Tensor:
        """Copy ``src`` (broadcast to this shape, any dtype) into this tensor's memory."""
        self._check_inplace(src)
        s = src._data if isinstance(src, TensorBase) else np.asarray(src)
        try:
            np.copyto(self._data, s, casting="unsafe")
        except ValueError:
            msg = f"copy_: `src` of shape {shape_str(s.shape)} cannot be broadcast to {shape_str(self.shape)}"
            raise ValueError(msg) from None
        self._bump_version()
        return self

    def __setitem__(self, key: Any, value: Any) -> None:
        self._check_inplace(value)
        self._data[_shape.index_key(key)] = value._data if isinstance(value, TensorBase) else value
        self._bump_version()

    def _iop(self, other: Any, op: Any, inplace: Any) -> Tensor:
        # Graph tensors fall back to the out-of-place op (dlx records no in-place ops).
        if is_grad_enabled() and (
            (self.requires_grad and self.grad_fn is not None)
            or (isinstance(other, TensorBase) and other.requires_grad)
        ):
            return op(self, other)  # type: ignore[no-any-return]
        return inplace(other)  # type: ignore[no-any-return]

    def __iadd__(self, other: Any) -> Tensor:  # type: ignore[misc]  # noqa: PYI034
        return self._iop(other, _ew.add, self.add_)

    def __isub__(self, other: Any) -> Tensor:  # type: ignore[misc]  # noqa: PYI034
        return self._iop(other, _ew.sub, self.sub_)

    def __imul__(self, other: Any) -> Tensor:  # type: ignore[misc]  # noqa: PYI034
        return self._iop(other, _ew.mul, self.mul_)

    def __itruediv__(self, other: Any) -> Tensor:  # type: ignore[misc]  # noqa: PYI034
        return self._iop(other, _ew.div, self.div_)


_register_tensor_class(Tensor)
_register_operators(
    add=_ew.add,
    radd=_ew.radd,
    sub=_ew.sub,
    rsub=_ew.rsub,
    mul=_ew.mul,
    rmul=_ew.rmul,
    div=_ew.div,
    rdiv=_ew.rdiv,
    pow=_ew.pow,
    rpow=_ew.rpow,
    matmul=_la.matmul,
    rmatmul=_la.rmatmul,
    neg=_un.neg,
    abs=_un.abs,
    getitem=_shape.getitem,
)
