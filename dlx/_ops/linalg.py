"""Matrix product. 2-D float operands go through the BLAS GEMM in ``dlx._core``; 1-D and
batched operands use ``np.matmul`` with NumPy's broadcasting of batch dimensions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx import _dtype
from dlx._native import _core
from dlx._ops.elementwise import _operand
from dlx._validation import matmul_shape
from dlx.autograd.function import Function, unbroadcast
from dlx.tensor import Tensor


def gemm(a: np.ndarray, b: np.ndarray, trans_a: bool = False, trans_b: bool = False) -> np.ndarray:
    """``op(a) @ op(b)`` by BLAS; a transposed (F-ordered) operand folds into the flag."""
    if not a.flags.c_contiguous:
        if a.flags.f_contiguous:
            a, trans_a = a.T, not trans_a
        else:
            a = np.ascontiguousarray(a)
    if not b.flags.c_contiguous:
        if b.flags.f_contiguous:
            b, trans_b = b.T, not trans_b
        else:
            b = np.ascontiguousarray(b)
    return _core.gemm(a, b, trans_a=trans_a, trans_b=trans_b)


def _use_gemm(a: np.ndarray, b: np.ndarray) -> bool:
    return a.ndim == 2 and b.ndim == 2 and a.dtype.kind == "f" and a.dtype.itemsize in (4, 8)


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b, dtype):
        na, nb = ctx.needs_input_grad
        ctx.save_for_backward(a if nb else None, b if na else None)
        ctx.dtype = dtype
        ctx.in_shapes = (a.shape, b.shape)
        a = a.astype(dtype, copy=False)
        b = b.astype(dtype, copy=False)
        if _use_gemm(a, b):
            return gemm(a, b)
        return np.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        na, nb = ctx.needs_input_grad
        a, b = ctx.saved_arrays
        a = None if a is None else a.astype(ctx.dtype, copy=False)
        b = None if b is None else b.astype(ctx.dtype, copy=False)
        all_2d = g.ndim == 2 and (a is None or a.ndim == 2) and (b is None or b.ndim == 2)
        if all_2d and _use_gemm(g, g):
            ga = gemm(g, b, trans_b=True) if na else None  # g @ b^T
            gb = gemm(a, g, trans_a=True) if nb else None  # a^T @ g
            return ga, gb
        # General case: promote 1-D operands to matrices, then undo it.
        ga = gb = None
        a2 = None if a is None else (a[None, :] if a.ndim == 1 else a)
        b2 = None if b is None else (b[:, None] if b.ndim == 1 else b)
        sa, sb = ctx.in_shapes
        sa2 = (1, *sa) if len(sa) == 1 else sa
        sb2 = (*sb, 1) if len(sb) == 1 else sb
        g2 = g.reshape(*np.broadcast_shapes(sa2[:-2], sb2[:-2]), sa2[-2], sb2[-1])
        if na:
            ga = unbroadcast(np.matmul(g2, np.swapaxes(b2, -1, -2)), sa2).reshape(sa)
        if nb:
            gb = unbroadcast(np.matmul(np.swapaxes(a2, -1, -2), g2), sb2).reshape(sb)
        return ga, gb


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product ``a @ b`` with NumPy semantics for 1-D and batched operands.

    Raises ValueError naming both shapes when the inner dimensions differ.
    """
    a, b = _operand(a), _operand(b)
    if _dtype.is_scalar(a) or _dtype.is_scalar(b):
        msg = "matmul: operands must be tensors or arrays, not scalars (use * instead)"
        raise ValueError(msg)
    matmul_shape(a.shape, b.shape)
    dtype = _dtype.binary_dtype(a.dtype, b.dtype)
    return MatMul.apply(a, b, dtype=dtype)
