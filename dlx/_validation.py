"""Argument checks for the public Python API, with messages that name the argument.

Rule: "`arg` <rule>, got <value>". ValueError for bad values, TypeError for bad types.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np


def shape_str(shape: Sequence[int]) -> str:
    """``(2, 3)`` / ``(5,)`` / ``()``."""
    return str(tuple(int(s) for s in shape))


def as_int(value: object, name: str) -> int:
    """``value`` as an int (bools and floats refused)."""
    if isinstance(value, bool):
        msg = f"`{name}` must be an int, got {value!r}"
        raise TypeError(msg)
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        msg = f"`{name}` must be an int, got {type(value).__name__}"
        raise TypeError(msg) from None


def non_negative_int(value: object, name: str) -> int:
    """``value`` as an int >= 0."""
    n = as_int(value, name)
    if n < 0:
        msg = f"`{name}` must be a non-negative int, got {n}"
        raise ValueError(msg)
    return n


def as_shape(args: tuple[object, ...], name: str = "shape") -> tuple[int, ...]:
    """A shape from varargs ``f(2, 3)`` or one sequence ``f((2, 3))``."""
    if len(args) == 1 and isinstance(args[0], Sequence | np.ndarray):
        args = tuple(args[0])
    return tuple(as_int(a, name) for a in args)


def normalize_axis(axis: object, ndim: int, name: str = "axis") -> int:
    """One axis in ``[-ndim, ndim)`` mapped to ``[0, ndim)``."""
    a = as_int(axis, name)
    if not -max(ndim, 1) <= a < max(ndim, 1):
        msg = f"`{name}` must be in [{-ndim}, {ndim}) for a {ndim}-D tensor, got {a}"
        raise ValueError(msg)
    return a % max(ndim, 1)


def normalize_axes(axis: object, ndim: int, name: str = "axis") -> tuple[int, ...] | None:
    """None (all axes), or a sorted tuple of distinct axes from an int or a sequence."""
    if axis is None:
        return None
    items = tuple(axis) if isinstance(axis, Sequence) else (axis,)
    if ndim == 0:
        for a in items:
            if as_int(a, name) not in (0, -1):
                msg = f"`{name}` must be 0, -1 or None for a 0-D tensor, got {a}"
                raise ValueError(msg)
        return ()
    axes = tuple(sorted(normalize_axis(a, ndim, name) for a in items))
    if len(set(axes)) != len(axes):
        msg = f"`{name}` must not repeat an axis, got {axis}"
        raise ValueError(msg)
    return axes


def pick_axis(axis: object, dim: object, default: object = None) -> object:
    """Merge the NumPy spelling ``axis`` with the PyTorch spelling ``dim``."""
    if dim is not None:
        if axis is not None:
            msg = f"give `axis` or `dim`, not both (got axis={axis}, dim={dim})"
            raise TypeError(msg)
        return dim
    return default if axis is None else axis


def pick_keepdims(keepdims: bool | None, keepdim: bool | None) -> bool:
    """Merge ``keepdims`` (NumPy) with ``keepdim`` (PyTorch); default False."""
    if keepdims is not None and keepdim is not None:
        msg = "give `keepdims` or `keepdim`, not both"
        raise TypeError(msg)
    return bool(keepdims if keepdims is not None else keepdim)


def broadcast_shape(a: tuple[int, ...], b: tuple[int, ...], op: str) -> tuple[int, ...]:
    """Broadcast result shape; ValueError naming both shapes when they are incompatible."""
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        msg = f"{op}: shapes {shape_str(a)} and {shape_str(b)} cannot be broadcast together"
        raise ValueError(msg) from None


def matmul_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """Result shape of ``a @ b``; ValueError naming both shapes when they do not align."""
    if len(a) == 0 or len(b) == 0:
        msg = f"matmul: both operands must be at least 1-D, got shapes {shape_str(a)} and {shape_str(b)}"
        raise ValueError(msg)
    k_a = a[-1]
    k_b = b[0] if len(b) == 1 else b[-2]
    if k_a != k_b:
        msg = (
            f"matmul: shapes {shape_str(a)} and {shape_str(b)} are not aligned: the first has "
            f"{k_a} columns but the second has {k_b} rows"
        )
        raise ValueError(msg)
    batch_a = a[:-2] if len(a) > 2 else ()
    batch_b = b[:-2] if len(b) > 2 else ()
    try:
        batch = np.broadcast_shapes(batch_a, batch_b)
    except ValueError:
        msg = (
            f"matmul: batch dimensions of shapes {shape_str(a)} and {shape_str(b)} cannot be "
            f"broadcast together"
        )
        raise ValueError(msg) from None
    rows = (a[-2],) if len(a) > 1 else ()
    cols = (b[-1],) if len(b) > 1 else ()
    return tuple(batch) + rows + cols


def same_float_dtype(fn: str, **arrays: np.ndarray | None) -> np.dtype:
    """The common float32/float64 dtype of ``arrays`` (None entries skipped); TypeError else."""
    dtype = None
    first = ""
    for name, a in arrays.items():
        if a is None:
            continue
        if a.dtype.kind != "f" or a.dtype.itemsize not in (4, 8):
            msg = f"{fn}: `{name}` must be float32 or float64, got {a.dtype}"
            raise TypeError(msg)
        if dtype is None:
            dtype, first = a.dtype, name
        elif a.dtype != dtype:
            msg = f"{fn}: `{name}` has dtype {a.dtype} but `{first}` has dtype {dtype}"
            raise TypeError(msg)
    assert dtype is not None
    return dtype
