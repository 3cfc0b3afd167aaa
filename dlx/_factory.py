"""Tensor creation: ``tensor``, ``from_numpy`` and PyTorch-style factories (the ``*_like``,
``eye``, ``linspace`` ... are in ``dlx._ops.creation``, random sampling in ``dlx._ops.random``).

Every factory takes ``dtype``, ``requires_grad`` and ``device`` (the CPU only)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx import _dtype
from dlx._autograd import make_tensor
from dlx._device import check_device
from dlx._ops.creation import leaf
from dlx._random import resolve_generator
from dlx._validation import as_shape
from dlx.tensor import Tensor

__all__ = [
    "arange",
    "empty",
    "from_numpy",
    "full",
    "ones",
    "rand",
    "randn",
    "tensor",
    "zeros",
]


def tensor(
    data: Any, requires_grad: bool = False, dtype: Any = None, device: Any = None, **_: Any
) -> Tensor:
    """A new leaf tensor holding a copy of ``data``.

    Parameters
    ----------
    data : array_like
        Values; Python floats become float32, ints int64, bools bool; NumPy arrays keep
        their dtype (float64 stays float64).
    requires_grad : bool
        Track gradients for this tensor (floating dtypes only).
    dtype : numpy dtype, optional
        Convert to this dtype (``dlx.float32``, ``dlx.long`` ...).
    device : str or dlx.device, optional
        Only the CPU.
    """
    check_device(device)
    if isinstance(data, Tensor):
        data = data.numpy()
    elif isinstance(data, list | tuple) and any(isinstance(d, Tensor) for d in data):
        data = [d.numpy() if isinstance(d, Tensor) else d for d in data]
    dt = None if dtype is None else _dtype.as_dtype(dtype)
    return Tensor(_dtype.array_from(data, dt, copy=True), requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing ``array``'s memory (no copy, dtype kept)."""
    if not isinstance(array, np.ndarray):
        msg = f"`array` must be a numpy.ndarray, got {type(array).__name__}"
        raise TypeError(msg)
    if array.dtype.kind not in "biuf":
        msg = f"`array` must hold bool, integer or floating values, got dtype {array.dtype}"
        raise TypeError(msg)
    return make_tensor(array)


def _dt(dtype: Any) -> np.dtype:
    return _dtype.default_float if dtype is None else _dtype.as_dtype(dtype)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Zeros of the given shape (float32 by default)."""
    return leaf(np.zeros(as_shape(size, "size"), _dt(dtype)), requires_grad, device)  # type: ignore[no-any-return]


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Ones of the given shape (float32 by default)."""
    return leaf(np.ones(as_shape(size, "size"), _dt(dtype)), requires_grad, device)  # type: ignore[no-any-return]


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None) -> Tensor:
    """Uninitialised values of the given shape (float32 by default)."""
    return leaf(np.empty(as_shape(size, "size"), _dt(dtype)), requires_grad, device)  # type: ignore[no-any-return]


def full(
    size: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False, device: Any = None
) -> Tensor:
    """``fill_value`` everywhere; the dtype follows the value unless given."""
    if dtype is None:
        dt = _dtype.array_from(fill_value, None, copy=False).dtype
    else:
        dt = _dtype.as_dtype(dtype)
    values = np.full(as_shape((size,), "size"), fill_value, dt)
    return leaf(values, requires_grad, device)  # type: ignore[no-any-return]


def arange(
    start: Any,
    end: Any = None,
    step: Any = 1,
    dtype: Any = None,
    *,
    requires_grad: bool = False,
    device: Any = None,
) -> Tensor:
    """Evenly spaced values in ``[start, end)``; int64 for int arguments, else float32."""
    if end is None:
        start, end = 0, start
    if step == 0:
        msg = "arange: `step` must be non-zero"
        raise ValueError(msg)
    values = np.arange(start, end, step)
    if dtype is not None:
        values = values.astype(_dtype.as_dtype(dtype))
    elif values.dtype.kind == "f":
        values = values.astype(_dtype.default_float)
    return leaf(values, requires_grad, device)  # type: ignore[no-any-return]


def randn(
    *size: Any,
    dtype: Any = None,
    requires_grad: bool = False,
    generator: Any = None,
    device: Any = None,
) -> Tensor:
    """Standard normal samples from ``generator`` (default: ``dlx.manual_seed``'s)."""
    dt = _dt(dtype)
    values = resolve_generator(generator).standard_normal(as_shape(size, "size"), dtype=dt)
    return leaf(values, requires_grad, device)  # type: ignore[no-any-return]


def rand(
    *size: Any,
    dtype: Any = None,
    requires_grad: bool = False,
    generator: Any = None,
    device: Any = None,
) -> Tensor:
    """Uniform samples in [0, 1) from ``generator`` (default: ``dlx.manual_seed``'s)."""
    dt = _dt(dtype)
    values = resolve_generator(generator).random(as_shape(size, "size"), dtype=dt)
    return leaf(values, requires_grad, device)  # type: ignore[no-any-return]
