"""Tensor creation that PyTorch scripts use beside the basic factories (``dlx._factory``):
``*_like``, ``Tensor.new_*``, ``eye``, ``linspace``/``logspace``, ``as_tensor``.

Every creator takes ``dtype``, ``requires_grad`` and ``device`` (the CPU only: another
device raises the CPU-only error), and returns a new leaf.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx import _dtype
from dlx._autograd import TensorBase, make_tensor
from dlx._device import check_device
from dlx._ops.unary import cast
from dlx._validation import as_shape, non_negative_int

__all__ = [
    "as_tensor",
    "empty_like",
    "eye",
    "full_like",
    "is_floating_point",
    "is_tensor",
    "linspace",
    "logspace",
    "new_empty",
    "new_full",
    "new_ones",
    "new_tensor",
    "new_zeros",
    "numel",
    "ones_like",
    "zeros_like",
]


def leaf(data: np.ndarray, requires_grad: bool = False, device: Any = None) -> Any:
    """A new leaf around ``data`` (checks the device and ``requires_grad``)."""
    check_device(device)
    t = make_tensor(data)
    if requires_grad:
        t.requires_grad = True
    return t


def _like_dtype(input: Any, dtype: Any) -> np.dtype:
    if dtype is not None:
        return _dtype.as_dtype(dtype)
    if isinstance(input, TensorBase):
        return input.dtype
    return np.asarray(input).dtype


def zeros_like(
    input: Any, dtype: Any = None, *, requires_grad: bool = False, device: Any = None, **_: Any
) -> Any:
    """Zeros with ``input``'s shape (and dtype unless given)."""
    return leaf(np.zeros(np.shape(input), _like_dtype(input, dtype)), requires_grad, device)


def ones_like(
    input: Any, dtype: Any = None, *, requires_grad: bool = False, device: Any = None, **_: Any
) -> Any:
    """Ones with ``input``'s shape (and dtype unless given)."""
    return leaf(np.ones(np.shape(input), _like_dtype(input, dtype)), requires_grad, device)


def empty_like(
    input: Any, dtype: Any = None, *, requires_grad: bool = False, device: Any = None, **_: Any
) -> Any:
    """Uninitialised values with ``input``'s shape (and dtype unless given)."""
    return leaf(np.empty(np.shape(input), _like_dtype(input, dtype)), requires_grad, device)


def full_like(
    input: Any,
    fill_value: Any,
    dtype: Any = None,
    *,
    requires_grad: bool = False,
    device: Any = None,
    **_: Any,
) -> Any:
    """``fill_value`` everywhere, with ``input``'s shape (and dtype unless given)."""
    dt = _like_dtype(input, dtype)
    return leaf(np.full(np.shape(input), fill_value, dt), requires_grad, device)


def _new_dtype(self: Any, dtype: Any) -> np.dtype:
    return self.dtype if dtype is None else _dtype.as_dtype(dtype)


def new_zeros(
    self: Any, *size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None
) -> Any:
    """Zeros of ``size`` with this tensor's dtype (unless given)."""
    return leaf(np.zeros(as_shape(size, "size"), _new_dtype(self, dtype)), requires_grad, device)


def new_ones(
    self: Any, *size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None
) -> Any:
    """Ones of ``size`` with this tensor's dtype (unless given)."""
    return leaf(np.ones(as_shape(size, "size"), _new_dtype(self, dtype)), requires_grad, device)


def new_empty(
    self: Any, *size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None
) -> Any:
    """Uninitialised values of ``size`` with this tensor's dtype (unless given)."""
    return leaf(np.empty(as_shape(size, "size"), _new_dtype(self, dtype)), requires_grad, device)


def new_full(
    self: Any,
    size: Any,
    fill_value: Any,
    *,
    dtype: Any = None,
    requires_grad: bool = False,
    device: Any = None,
) -> Any:
    """``fill_value`` everywhere in ``size``, with this tensor's dtype (unless given)."""
    shape = as_shape((size,), "size")
    return leaf(np.full(shape, fill_value, _new_dtype(self, dtype)), requires_grad, device)


def new_tensor(
    self: Any, data: Any, *, dtype: Any = None, requires_grad: bool = False, device: Any = None
) -> Any:
    """A copy of ``data`` with this tensor's dtype (unless given)."""
    arr = data._data if isinstance(data, TensorBase) else data
    out = _dtype.array_from(arr, _new_dtype(self, dtype), copy=True)
    return leaf(out, requires_grad, device)


def eye(
    n: int,
    m: int | None = None,
    *,
    dtype: Any = None,
    requires_grad: bool = False,
    device: Any = None,
) -> Any:
    """The ``n x m`` identity matrix (square by default), float32 unless ``dtype``."""
    rows = non_negative_int(n, "n")
    cols = rows if m is None else non_negative_int(m, "m")
    dt = _dtype.default_float if dtype is None else _dtype.as_dtype(dtype)
    return leaf(np.eye(rows, cols, dtype=dt), requires_grad, device)


def _number(x: Any, name: str) -> float:
    if isinstance(x, TensorBase):
        if x._data.size != 1:
            msg = f"`{name}` must be a number or a one-element tensor, got shape {x.shape}"
            raise ValueError(msg)
        return float(x._data.item())
    if not _dtype.is_scalar(x) or isinstance(x, bool):
        msg = f"`{name}` must be a number, got {type(x).__name__}"
        raise TypeError(msg)
    return float(x)


def linspace(
    start: Any,
    end: Any,
    steps: int,
    *,
    dtype: Any = None,
    requires_grad: bool = False,
    device: Any = None,
) -> Any:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive (float32)."""
    n = non_negative_int(steps, "steps")
    dt = _dtype.default_float if dtype is None else _dtype.as_dtype(dtype)
    a, b = _number(start, "start"), _number(end, "end")
    return leaf(np.linspace(a, b, n).astype(dt), requires_grad, device)


def logspace(
    start: Any,
    end: Any,
    steps: int,
    base: float = 10.0,
    *,
    dtype: Any = None,
    requires_grad: bool = False,
    device: Any = None,
) -> Any:
    """``base ** linspace(start, end, steps)`` (float32)."""
    n = non_negative_int(steps, "steps")
    dt = _dtype.default_float if dtype is None else _dtype.as_dtype(dtype)
    a, b = _number(start, "start"), _number(end, "end")
    values = np.logspace(a, b, n, base=_number(base, "base"))
    return leaf(values.astype(dt), requires_grad, device)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Any:
    """``data`` as a tensor without a copy where possible: a tensor (of that dtype) is
    returned itself, a NumPy array of that dtype is shared; anything else is copied."""
    check_device(device)
    dt = None if dtype is None else _dtype.as_dtype(dtype)
    if isinstance(data, TensorBase):
        return data if dt is None or dt == data.dtype else cast(data, dt)
    if isinstance(data, np.ndarray) and (dt is None or dt == data.dtype):
        if data.dtype.kind not in "biuf":
            msg = f"`data` must hold bool, integer or floating values, got dtype {data.dtype}"
            raise TypeError(msg)
        return make_tensor(data)
    return make_tensor(_dtype.array_from(data, dt, copy=False))


def is_tensor(obj: Any) -> bool:
    """True for dlx tensors (``torch.is_tensor``)."""
    return isinstance(obj, TensorBase)


def numel(input: Any) -> int:
    """Number of elements of ``input``."""
    return int(input._data.size if isinstance(input, TensorBase) else np.size(input))


def is_floating_point(input: Any) -> bool:
    """True when ``input`` has a floating dtype."""
    return bool(input.dtype.kind == "f")
