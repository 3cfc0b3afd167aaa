"""``dropout``: a counter-based mask from ``dlx._core``, seeded by dlx's default generator."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx._native import _core
from dlx._ops._common import is_array
from dlx._ops.elementwise import as_tensor
from dlx._random import default_generator
from dlx._validation import same_float_dtype
from dlx.autograd.function import Function, c_contiguous
from dlx.tensor import Tensor


class Dropout(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, x, p, seed):
        y, mask = _core.dropout_forward(c_contiguous(x), p, seed)
        ctx.save_for_backward(mask)
        ctx.p = p
        return y

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        if is_array(g):
            return _core.dropout_backward(c_contiguous(g), mask, ctx.p)
        if ctx.p >= 1.0:
            return g * 0.0
        return g * (mask.astype(g.dtype) * (1.0 / (1.0 - ctx.p)))  # linear: mask is constant


def dropout(input: Any, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1 / (1 - p)``.

    Identity (the input itself) when ``training`` is False or ``p == 0``. The mask's seed
    is drawn from dlx's default generator, so ``dlx.manual_seed`` makes it reproducible.
    """
    x = as_tensor(input)
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
        msg = f"dropout: `p` must be a probability in [0, 1], got {p!r}"
        raise ValueError(msg)
    if not training or p == 0:
        return x
    same_float_dtype("dropout", input=x._data)
    seed = int(default_generator().integers(0, 2**64, dtype=np.uint64))
    return Dropout.apply(x, p=float(p), seed=seed)
