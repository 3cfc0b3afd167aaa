"""dtype policy: float32 by default, float64 kept, integers for labels and indices.

- Python floats (and lists of them) become float32; NumPy float64 arrays stay float64.
- float32 op float64 -> float64, as in NumPy; an integer or bool tensor op a float
  tensor -> the float tensor's dtype, as in PyTorch.
- Python and NumPy scalars never upcast a tensor: float32 * 2.5 stays float32, and an
  integer tensor * 2.5 gives float32.
"""

from __future__ import annotations

import numbers

import numpy as np

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
float16 = np.dtype(np.float16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)
default_float = float32

_KINDS = "biuf"  # bool, signed, unsigned, float: the kinds a Tensor may hold


def as_dtype(dtype: object, name: str = "dtype") -> np.dtype:
    """A supported numpy dtype from anything ``np.dtype`` accepts; TypeError otherwise."""
    try:
        dt = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError:
        msg = f"`{name}` must be a numpy dtype such as dlx.float32, got {dtype!r}"
        raise TypeError(msg) from None
    if dt.kind not in _KINDS:
        msg = f"`{name}` must be a bool, integer or floating dtype, got {dt}"
        raise TypeError(msg)
    return dt


def array_from(data: object, dtype: np.dtype | None, copy: bool) -> np.ndarray:
    """Array for ``dlx.tensor``: Python floats -> float32, ndarray dtypes kept."""
    from_array = isinstance(data, np.ndarray | np.generic)
    arr = np.array(data, dtype=dtype) if copy else np.asarray(data, dtype=dtype)
    if dtype is None and arr.dtype.kind == "f" and not from_array:
        arr = arr.astype(default_float)
    if arr.dtype.kind not in _KINDS:
        msg = f"`data` must hold bool, integer or floating values, got dtype {arr.dtype}"
        raise TypeError(msg)
    return arr


def is_scalar(x: object) -> bool:
    """True for Python and NumPy numbers (weak operands that do not upcast tensors)."""
    if type(x) in (float, int, bool):
        return True
    return isinstance(x, numbers.Number | np.generic) and not isinstance(x, complex)


def binary_dtype(a: np.dtype, b: np.dtype) -> np.dtype:
    """Result dtype of an op between two arrays (see module docstring)."""
    if a == b:
        return a
    fa, fb = a.kind == "f", b.kind == "f"
    if fa and not fb:
        return a
    if fb and not fa:
        return b
    return np.promote_types(a, b)


def scalar_dtype(a: np.dtype, s: object) -> np.dtype:
    """Result dtype of an op between an array of dtype ``a`` and a scalar ``s``."""
    if type(s) is float:
        return a if a.kind == "f" else default_float
    if isinstance(s, bool | np.bool_):
        return a
    if isinstance(s, numbers.Integral):
        return a if a.kind != "b" else int64
    if isinstance(s, numbers.Real):
        return a if a.kind == "f" else default_float
    msg = f"unsupported scalar operand of type {type(s).__name__}"
    raise TypeError(msg)
