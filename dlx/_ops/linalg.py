"""Matrix product. 2-D float operands go through the GEMM in ``dlx._core``; 1-D and
batched operands use ``np.matmul`` with NumPy's broadcasting of batch dimensions. The
backward is two matrix products, recorded as such under ``create_graph``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx import _dtype
from dlx._autograd import Function
from dlx._native import _core
from dlx._ops._common import as_tensor, is_array
from dlx._ops.elementwise import _operand
from dlx._ops.shape import Permute, sum_to
from dlx._validation import matmul_shape

__all__ = ["addmm", "bmm", "dot", "gemm", "ger", "matmul", "mm", "mv", "outer"]


def gemm(a: np.ndarray, b: np.ndarray, trans_a: bool = False, trans_b: bool = False) -> np.ndarray:
    """``op(a) @ op(b)`` by GEMM; a transposed (F-ordered) operand folds into the flag."""
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


def _swap(x: Any) -> Any:
    """The last two axes exchanged (arrays or Tensors)."""
    perm = (*range(x.ndim - 2), x.ndim - 1, x.ndim - 2)
    return Permute.apply(x, perm=perm)


class MatMul(Function):
    __slots__ = ("dtype", "in_shapes")
    double_backward = True

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
        a, b = ctx.saved_tensors
        if a is not None and a.dtype != ctx.dtype:
            a = a.astype(ctx.dtype) if is_array(a) else a.to(ctx.dtype)
        if b is not None and b.dtype != ctx.dtype:
            b = b.astype(ctx.dtype) if is_array(b) else b.to(ctx.dtype)
        all_2d = g.ndim == 2 and (a is None or a.ndim == 2) and (b is None or b.ndim == 2)
        if all_2d:
            if is_array(g) and _use_gemm(g, g):
                ga = gemm(g, b, trans_b=True) if na else None  # g @ b^T
                gb = gemm(a, g, trans_a=True) if nb else None  # a^T @ g
                return ga, gb
            ga = MatMul.apply(g, _swap(b), dtype=ctx.dtype) if na else None
            gb = MatMul.apply(_swap(a), g, dtype=ctx.dtype) if nb else None
            return ga, gb
        # General case: promote 1-D operands to matrices, then undo it.
        sa, sb = ctx.in_shapes
        sa2 = (1, *sa) if len(sa) == 1 else sa
        sb2 = (*sb, 1) if len(sb) == 1 else sb
        g2 = g.reshape((*np.broadcast_shapes(sa2[:-2], sb2[:-2]), sa2[-2], sb2[-1]))
        ga = gb = None
        if na:
            b2 = b.reshape(sb2)
            ga = sum_to(MatMul.apply(g2, _swap(b2), dtype=ctx.dtype), sa2).reshape(sa)
        if nb:
            a2 = a.reshape(sa2)
            gb = sum_to(MatMul.apply(_swap(a2), g2, dtype=ctx.dtype), sb2).reshape(sb)
        return ga, gb


def matmul(input: Any, other: Any) -> Any:
    """Matrix product ``input @ other`` with NumPy semantics for 1-D and batched operands.

    Raises ValueError naming both shapes when the inner dimensions differ.
    """
    a, b = _operand(input), _operand(other)
    if _dtype.is_scalar(a) or _dtype.is_scalar(b):
        msg = "matmul: operands must be tensors or arrays, not scalars (use * instead)"
        raise ValueError(msg)
    matmul_shape(a.shape, b.shape)
    dtype = _dtype.binary_dtype(a.dtype, b.dtype)
    return MatMul.apply(as_tensor(a), b, dtype=dtype)


def rmatmul(input: Any, other: Any) -> Any:
    """``other @ input`` (the reflected operator)."""
    return matmul(other, input)


def _tensor2(x: Any, ndim: int, op: str, name: str) -> Any:
    t = as_tensor(x)
    if t.ndim != ndim:
        msg = f"{op}: `{name}` must be {ndim}-D, got shape {tuple(t.shape)}"
        raise ValueError(msg)
    return t


def mm(input: Any, mat2: Any) -> Any:
    """Product of two matrices (2-D only; see :func:`matmul` for broadcasting)."""
    return matmul(_tensor2(input, 2, "mm", "input"), _tensor2(mat2, 2, "mm", "mat2"))


def bmm(input: Any, mat2: Any) -> Any:
    """Batched matrix product of ``(b, n, m)`` and ``(b, m, p)`` (no broadcasting)."""
    a, b = _tensor2(input, 3, "bmm", "input"), _tensor2(mat2, 3, "bmm", "mat2")
    if a.shape[0] != b.shape[0]:
        msg = f"bmm: batch sizes differ: `input` has {a.shape[0]}, `mat2` has {b.shape[0]}"
        raise ValueError(msg)
    return matmul(a, b)


def mv(input: Any, vec: Any) -> Any:
    """Matrix-vector product of an ``(n, m)`` matrix and an ``(m,)`` vector."""
    return matmul(_tensor2(input, 2, "mv", "input"), _tensor2(vec, 1, "mv", "vec"))


def dot(input: Any, other: Any) -> Any:
    """Inner product of two 1-D tensors of the same length (0-d result)."""
    a, b = _tensor2(input, 1, "dot", "input"), _tensor2(other, 1, "dot", "other")
    if a.shape != b.shape:
        msg = f"dot: `input` has {a.shape[0]} elements but `other` has {b.shape[0]}"
        raise ValueError(msg)
    return matmul(a, b)


def outer(input: Any, vec2: Any) -> Any:
    """Outer product ``input[:, None] * vec2[None, :]`` of two 1-D tensors."""
    from dlx._ops.elementwise import mul
    from dlx._ops.shape import reshape

    a, b = _tensor2(input, 1, "outer", "input"), _tensor2(vec2, 1, "outer", "vec2")
    return mul(reshape(a, (-1, 1)), reshape(b, (1, -1)))


ger = outer


def addmm(input: Any, mat1: Any, mat2: Any, *, beta: Any = 1, alpha: Any = 1) -> Any:
    """``beta * input + alpha * (mat1 @ mat2)`` (``input`` broadcast to the product)."""
    from dlx._ops.elementwise import add, mul

    p = mm(mat1, mat2)
    if alpha != 1:
        p = mul(p, alpha)
    return add(mul(input, beta) if beta != 1 else input, p)
