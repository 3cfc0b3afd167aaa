"""Helpers shared by the op modules: wrapping inputs, unwrapping values in backward.

Backward formulas see arrays in a plain backward and Tensors under ``create_graph``;
``value`` gives the array behind either (for masks and other piecewise-constant terms).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx import _dtype
from dlx._autograd import TensorBase, make_tensor

__all__ = ["as_tensor", "c_contiguous", "is_array", "value"]


def as_tensor(x: Any) -> Any:
    """``x`` if it is a Tensor, else a constant Tensor (dtype policy of ``dlx.tensor``)."""
    if isinstance(x, TensorBase):
        return x
    return make_tensor(_dtype.array_from(x, None, copy=False))


def value(x: Any) -> Any:
    """The array behind a Tensor (anything else unchanged)."""
    return x._data if isinstance(x, TensorBase) else x


def is_array(g: Any) -> bool:
    """True in a plain backward (arrays), False under ``create_graph`` (Tensors)."""
    return type(g) is np.ndarray


def c_contiguous(a: np.ndarray) -> np.ndarray:
    """``a`` itself when C-contiguous, else a C-ordered copy (kernels refuse strided arrays)."""
    return a if a.flags.c_contiguous else np.array(a, order="C")
