"""Tensor creation: ``tensor``, ``from_numpy`` and PyTorch-style factories."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx import _dtype
from dlx._autograd import make_tensor
from dlx._random import resolve_generator
from dlx._validation import as_shape
from dlx.tensor import Tensor

__all__ = [
    "arange",
    "empty",
    "from_numpy",
    "full",
    "ones",
    "ones_like",
    "rand",
    "randn",
    "tensor",
    "zeros",
    "zeros_like",
]


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A new leaf tensor holding a copy of ``data``.

    Parameters
    ----------
    data : array_like
        Values; Python floats become float32, ints int64, bools bool; NumPy arrays keep
        their dtype (float64 stays float64).
    requires_grad : bool
        Track gradients for this tensor (floating dtypes only).
    dtype : numpy dtype, optional
        Convert to this dtype.
    """
    if isinstance(data, Tensor):
        data = data.numpy()
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


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros of the given shape (float32 by default)."""
    return Tensor(np.zeros(as_shape(size, "size"), _dt(dtype)), requires_grad=requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones of the given shape (float32 by default)."""
    return Tensor(np.ones(as_shape(size, "size"), _dt(dtype)), requires_grad=requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uninitialised values of the given shape (float32 by default)."""
    return Tensor(np.empty(as_shape(size, "size"), _dt(dtype)), requires_grad=requires_grad)


def full(size: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """``fill_value`` everywhere; the dtype follows the value unless given."""
    if dtype is None:
        dt = _dtype.array_from(fill_value, None, copy=False).dtype
    else:
        dt = _dtype.as_dtype(dtype)
    return Tensor(np.full(as_shape((size,), "size"), fill_value, dt), requires_grad=requires_grad)


def zeros_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with ``t``'s shape and dtype."""
    dt = np.asarray(t).dtype if dtype is None else _dtype.as_dtype(dtype)
    return Tensor(np.zeros(np.shape(t), dt), requires_grad=requires_grad)


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with ``t``'s shape and dtype."""
    dt = np.asarray(t).dtype if dtype is None else _dtype.as_dtype(dtype)
    return Tensor(np.ones(np.shape(t), dt), requires_grad=requires_grad)


def arange(start: Any, end: Any = None, step: Any = 1, dtype: Any = None) -> Tensor:
    """Evenly spaced values in ``[start, end)``; int64 for int arguments, else float32."""
    if end is None:
        start, end = 0, start
    values = np.arange(start, end, step)
    if dtype is not None:
        values = values.astype(_dtype.as_dtype(dtype))
    elif values.dtype.kind == "f":
        values = values.astype(_dtype.default_float)
    return Tensor(values)


def randn(
    *size: Any,
    dtype: Any = None,
    requires_grad: bool = False,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Standard normal samples from ``generator`` (default: ``dlx.manual_seed``'s)."""
    dt = _dt(dtype)
    values = resolve_generator(generator).standard_normal(as_shape(size, "size"), dtype=dt)
    return Tensor(values, requires_grad=requires_grad)


def rand(
    *size: Any,
    dtype: Any = None,
    requires_grad: bool = False,
    generator: np.random.Generator | None = None,
) -> Tensor:
    """Uniform samples in [0, 1) from ``generator`` (default: ``dlx.manual_seed``'s)."""
    dt = _dt(dtype)
    values = resolve_generator(generator).random(as_shape(size, "size"), dtype=dt)
    return Tensor(values, requires_grad=requires_grad)
