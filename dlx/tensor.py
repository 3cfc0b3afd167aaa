"""``dlx.Tensor``: a NumPy array, its gradient, and the graph node that produced it.

The array lives in ``.data`` (a plain, settable attribute: every op reads it at call
time). ``.grad`` is a NumPy array or None. Non-leaf tensors keep a reference to their
node (``grad_fn``); leaves are tensors created by the user. Ops live in ``dlx._ops``;
the methods here forward to them. Every tensor has a version counter, shared with the
tensors that view its memory, bumped by in-place ops and checked at backward.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np

from dlx import _dtype
from dlx._grad_mode import _state
from dlx._tensor_methods import TensorMethods
from dlx._validation import shape_str

__all__ = ["Tensor"]


class Tensor(TensorMethods):
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

    __slots__ = ("__weakref__", "_grad", "_node", "_requires_grad", "_vc", "data")
    __array_ufunc__ = None  # ndarray <op> Tensor defers to the Tensor's reflected op
    __hash__ = object.__hash__  # identity, although == is elementwise

    data: np.ndarray

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        dt = None if dtype is None else _dtype.as_dtype(dtype)
        self.data = _dtype.array_from(data, dt, copy=False)
        self._grad: np.ndarray | None = None
        self._node = None
        self._vc = [0]
        self._requires_grad = False
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _make(
        cls, data: np.ndarray, node: Any, requires_grad: bool, vc: list[int] | None
    ) -> Tensor:
        """Fast internal constructor for op results (no validation)."""
        t = object.__new__(Tensor)
        t.data = data
        t._grad = None
        t._requires_grad = requires_grad
        t._node = node
        t._vc = [0] if vc is None else vc
        return t

    # -- array-like properties --------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """Tuple of dimension sizes."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """Number of dimensions."""
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        """NumPy dtype of the data."""
        return self.data.dtype

    @property
    def device(self) -> str:
        """Always ``"cpu"``."""
        return "cpu"

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        """Shape, or the size of one dimension (PyTorch spelling)."""
        return self.data.shape if dim is None else self.data.shape[dim]

    def dim(self) -> int:
        """Number of dimensions (PyTorch spelling)."""
        return self.data.ndim

    def numel(self) -> int:
        """Number of elements."""
        return int(self.data.size)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            msg = "len() of a 0-d tensor"
            raise TypeError(msg)
        return self.data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if copy:
            return np.array(self.data, dtype=dtype)
        return np.asarray(self.data, dtype=dtype)

    def numpy(self) -> np.ndarray:
        """The data array itself (no copy)."""
        return self.data

    def item(self) -> Any:
        """The single element as a Python number."""
        if self.data.size != 1:
            msg = f"item(): the tensor must have exactly one element, got shape {shape_str(self.shape)}"
            raise ValueError(msg)
        return self.data.item()

    def tolist(self) -> Any:
        """Nested Python lists of the values."""
        return self.data.tolist()

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            msg = "only integer tensors of a single element can be converted to an index"
            raise TypeError(msg)
        return int(self.data.item())

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extras = [body]
        if self.data.dtype not in (_dtype.float32, _dtype.int64, _dtype.bool_):
            extras.append(f"dtype={self.data.dtype}")
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.name()}>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join(extras) + ")"

    # -- autograd state ---------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        """Whether ops on this tensor are recorded for backward."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        value = bool(value)
        if value and self.data.dtype.kind != "f":
            msg = f"only floating-point tensors can require gradients, got dtype {self.data.dtype}"
            raise RuntimeError(msg)
        if self._node is not None and not value:
            msg = "requires_grad can only be changed on leaf tensors; use .detach() instead"
            raise RuntimeError(msg)
        self._requires_grad = value

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place and return self."""
        self.requires_grad = requires_grad
        return self

    @property
    def grad(self) -> np.ndarray | None:
        """Accumulated gradient (an ndarray of this tensor's shape and dtype) or None."""
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        if value is not None:
            if isinstance(value, Tensor):
                value = value.data
            if not isinstance(value, np.ndarray):
                msg = f"`grad` must be a numpy.ndarray or None, got {type(value).__name__}"
                raise TypeError(msg)
            if value.shape != self.data.shape:
                msg = (
                    f"`grad` must have shape {shape_str(self.shape)}, got {shape_str(value.shape)}"
                )
                raise ValueError(msg)
            if value.dtype != self.data.dtype:
                msg = f"`grad` must have dtype {self.data.dtype}, got {value.dtype}"
                raise TypeError(msg)
        self._grad = value

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded op."""
        return self._node is None

    @property
    def grad_fn(self) -> Any:
        """The node that produced this tensor, or None for leaves."""
        return self._node

    @property
    def _version(self) -> int:
        """Number of in-place modifications of this tensor's memory."""
        return self._vc[0]

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor during backward."""
        if self._node is not None:
            self._node._retained = weakref.ref(self)

    def backward(
        self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False
    ) -> None:
        """Accumulate the gradient of this tensor into the ``.grad`` of its leaves.

        Parameters
        ----------
        gradient : array_like, optional
            Gradient with respect to this tensor; required unless it has one element.
        retain_graph : bool, optional
            Keep the graph's saved arrays for another backward (default False).
        create_graph : bool
            Not supported (higher-order gradients).
        """
        _engine.backward(self, gradient, retain_graph, create_graph)

    def detach(self) -> Tensor:
        """A tensor sharing this data (and version counter) without graph history."""
        return Tensor._make(self.data, None, False, self._vc)

    def __deepcopy__(self, memo: dict[int, Any]) -> Tensor:
        if self._node is not None:
            msg = "only leaf tensors support deepcopy; detach() first"
            raise RuntimeError(msg)
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        new.data = self.data.copy()
        new._grad = None if self._grad is None else self._grad.copy()
        new._requires_grad = self._requires_grad
        new._node = None
        new._vc = [0]
        if hasattr(self, "__dict__"):
            new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return new

    # -- in-place ops (not recorded: allowed outside the graph or under no_grad) -------
    def _check_inplace(self, other: Any = None) -> None:
        if not _state.enabled:
            return
        if self._requires_grad:
            if self._node is None:
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
        if isinstance(other, Tensor) and other._requires_grad:
            msg = "in-place operations with an operand that requires grad are not recorded by dlx"
            raise RuntimeError(msg)

    def _inplace(self, ufunc: np.ufunc, other: Any, name: str) -> Tensor:
        self._check_inplace(other)
        o = other.data if isinstance(other, Tensor) else other
        try:
            ufunc(self.data, o, out=self.data, casting="same_kind")
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
        self._vc[0] += 1
        return self

    def add_(self, other: Any, alpha: float = 1) -> Tensor:
        """``self += alpha * other`` in place."""
        if alpha != 1:
            other = (other.data if isinstance(other, Tensor) else np.asarray(other)) * alpha
        return self._inplace(np.add, other, "add_")

    def sub_(self, other: Any, alpha: float = 1) -> Tensor:
        """``self -= alpha * other`` in place."""
        if alpha != 1:
            other = (other.data if isinstance(other, Tensor) else np.asarray(other)) * alpha
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
        np.clip(self.data, min, max, out=self.data)
        self._vc[0] += 1
        return self

    def fill_(self, value: Any) -> Tensor:
        """Set every element to ``value``."""
        self._check_inplace(value)
        self.data.fill(value.item() if isinstance(value, Tensor) else value)
        self._vc[0] += 1
        return self

    def zero_(self) -> Tensor:
        """Set every element to zero."""
        return self.fill_(0)

    def copy_(self, src: Any) -> Tensor:
        """Copy ``src`` (broadcast to this shape, any dtype) into this tensor's memory."""
        self._check_inplace(src)
        s = src.data if isinstance(src, Tensor) else np.asarray(src)
        try:
            np.copyto(self.data, s, casting="unsafe")
        except ValueError:
            msg = f"copy_: `src` of shape {shape_str(s.shape)} cannot be broadcast to {shape_str(self.shape)}"
            raise ValueError(msg) from None
        self._vc[0] += 1
        return self

    def __setitem__(self, key: Any, value: Any) -> None:
        self._check_inplace(value)
        self.data[_shape.index_key(key)] = value.data if isinstance(value, Tensor) else value
        self._vc[0] += 1

    def _iop(self, other: Any, op: Any, inplace: Any) -> Tensor:
        # Graph tensors fall back to the out-of-place op (dlx records no in-place ops).
        if _state.enabled and (
            (self._requires_grad and self._node is not None)
            or (isinstance(other, Tensor) and other._requires_grad)
        ):
            return op(self, other)
        return inplace(other)

    def __iadd__(self, other: Any) -> Tensor:  # noqa: PYI034 - may return a new tensor
        return self._iop(other, _ew.add, self.add_)

    def __isub__(self, other: Any) -> Tensor:  # noqa: PYI034 - may return a new tensor
        return self._iop(other, _ew.sub, self.sub_)

    def __imul__(self, other: Any) -> Tensor:  # noqa: PYI034 - may return a new tensor
        return self._iop(other, _ew.mul, self.mul_)

    def __itruediv__(self, other: Any) -> Tensor:  # noqa: PYI034 - may return a new tensor
        return self._iop(other, _ew.div, self.div_)


# The op modules import Tensor, so they are imported once the class exists.
from dlx import _tensor_methods
from dlx._ops import elementwise as _ew
from dlx._ops import shape as _shape
from dlx.autograd import engine as _engine

_tensor_methods._bind()
