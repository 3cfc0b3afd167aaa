"""Helpers shared by the layer classes: dtype policy, config values, shape checks."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx import _dtype
from dlx._validation import as_int, shape_str


def float_dtype(dtype: Any) -> np.dtype:
    """The parameter dtype of a layer: float32 (default) or float64; TypeError else."""
    dt = _dtype.default_float if dtype is None else _dtype.as_dtype(dtype)
    if dt not in (_dtype.float32, _dtype.float64):
        msg = f"`dtype` must be float32 or float64, got {dt}"
        raise TypeError(msg)
    return dt


def recurrent_sizes(cls: str, input_size: Any, hidden_size: Any) -> tuple[int, int]:
    """(input_size >= 0, hidden_size > 0) of a recurrent layer or cell; ValueError naming it."""
    i, h = as_int(input_size, "input_size"), as_int(hidden_size, "hidden_size")
    if i < 0:
        msg = f"{cls}: `input_size` must be non-negative, got {i}"
        raise ValueError(msg)
    if h <= 0:
        msg = f"{cls}: `hidden_size` must be positive, got {h}"
        raise ValueError(msg)
    return i, h


def jsonable(value: Any) -> Any:
    """Tuples as lists (JSON has no tuples); everything else unchanged."""
    return list(value) if isinstance(value, tuple) else value


def check_input(
    layer: Any, shape: tuple[int, ...], ndims: tuple[int, ...], channels: int | None, what: str
) -> None:
    """ValueError naming ``layer`` (by its repr) when ``shape`` has the wrong rank or channels."""
    if len(shape) in ndims and (channels is None or shape[1] == channels):
        return
    layer = repr(layer).split("\n")[0]
    if len(shape) not in ndims:
        want = " or ".join(f"{n}-D" for n in ndims)
        msg = f"{layer}: expected {want} input {what}, got input of shape {shape_str(shape)}"
        raise ValueError(msg)
    if channels is not None and shape[1] != channels:
        msg = (
            f"{layer}: expected input with {channels} channels {what}, got input of shape "
            f"{shape_str(shape)} ({shape[1]} channels)"
        )
        raise ValueError(msg)
