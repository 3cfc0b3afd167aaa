"""dtype and device conversions of tensors: ``to``, ``float``/``double``/``half``/``long``/
``int``/``short``/``bool``/``byte``, ``type``/``type_as``, ``cpu``/``cuda``, ``contiguous``.

Conversions between floating dtypes are differentiable (the gradient is cast back); the
CPU is the only device, and ``cuda()`` or ``to("cuda")`` raise the CPU-only error.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from dlx import _dtype
from dlx._autograd import TensorBase
from dlx._device import check_device
from dlx._device import device as _device_type
from dlx._ops.unary import cast, clone

__all__ = [
    "bool",
    "byte",
    "contiguous",
    "cpu",
    "cuda",
    "double",
    "float",
    "half",
    "int",
    "is_contiguous",
    "long",
    "numpy",
    "short",
    "to",
    "type",
    "type_as",
]

# PyTorch's legacy type names (``x.type()``) by NumPy dtype, and back.
_TYPE_NAMES = {
    np.dtype(np.float32): "torch.FloatTensor",
    np.dtype(np.float64): "torch.DoubleTensor",
    np.dtype(np.float16): "torch.HalfTensor",
    np.dtype(np.int64): "torch.LongTensor",
    np.dtype(np.int32): "torch.IntTensor",
    np.dtype(np.int16): "torch.ShortTensor",
    np.dtype(np.int8): "torch.CharTensor",
    np.dtype(np.uint8): "torch.ByteTensor",
    np.dtype(np.bool_): "torch.BoolTensor",
}
_BY_NAME = {v: k for k, v in _TYPE_NAMES.items()}


def to(
    self: Any,
    *args: Any,
    dtype: Any = None,
    device: Any = None,
    copy: builtins.bool = False,
    non_blocking: builtins.bool = False,
    memory_format: Any = None,
) -> Any:
    """Convert the dtype (differentiable): ``to(dtype)``, ``to(device)``,
    ``to(device, dtype)``, ``to(other)`` (its dtype); the CPU is the only device."""
    for a in args:
        if isinstance(a, TensorBase):
            dtype = a.dtype
        elif isinstance(a, str | _device_type):
            device = a
        elif a is not None:
            dtype = a
    check_device(device)
    if dtype is None:
        return clone(self) if copy else self
    out = cast(self, dtype)
    return clone(out) if copy and out is self else out


def float(self: Any) -> Any:
    """As float32."""
    return cast(self, _dtype.float32)


def double(self: Any) -> Any:
    """As float64."""
    return cast(self, _dtype.float64)


def half(self: Any) -> Any:
    """As float16."""
    return cast(self, _dtype.float16)


def long(self: Any) -> Any:
    """As int64 (not differentiable)."""
    return cast(self, _dtype.int64)


def int(self: Any) -> Any:
    """As int32 (not differentiable)."""
    return cast(self, _dtype.int32)


def short(self: Any) -> Any:
    """As int16 (not differentiable)."""
    return cast(self, np.int16)


def byte(self: Any) -> Any:
    """As uint8 (not differentiable)."""
    return cast(self, _dtype.uint8)


def bool(self: Any) -> Any:
    """As bool: True where non-zero."""
    return cast(self, _dtype.bool_)


def type_as(self: Any, other: Any) -> Any:
    """As ``other``'s dtype."""
    return cast(self, other.dtype)


def type(self: Any, dtype: Any = None, non_blocking: builtins.bool = False) -> Any:
    """Without ``dtype``: PyTorch's type name (``"torch.FloatTensor"``); with it (a dtype
    or such a name): the converted tensor."""
    if dtype is None:
        return _TYPE_NAMES.get(self.dtype, f"dlx.Tensor[{self.dtype}]")
    if isinstance(dtype, str) and dtype in _BY_NAME:
        dtype = _BY_NAME[dtype]
    return cast(self, dtype)


def cpu(self: Any, memory_format: Any = None) -> Any:
    """Self: dlx tensors live on the CPU."""
    return self


def cuda(self: Any, device: Any = None, non_blocking: builtins.bool = False, **_: Any) -> Any:
    """Always raises: dlx runs on the CPU."""
    check_device("cuda")
    return self


def is_contiguous(self: Any, memory_format: Any = None) -> Any:
    """True when the memory is C-ordered."""
    return self._data.flags.c_contiguous


def contiguous(self: Any, memory_format: Any = None) -> Any:
    """Self when C-contiguous, else a C-ordered differentiable copy."""
    if self._data.flags.c_contiguous:
        return self
    return clone(self)


def numpy(self: Any, *, force: builtins.bool = False) -> np.ndarray:
    """The array holding this tensor's values (no copy; ``force`` is accepted and ignored)."""
    return self._data  # type: ignore[no-any-return]
