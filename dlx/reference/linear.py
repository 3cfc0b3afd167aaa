"""NumPy references for GEMM and the dense layer."""

from __future__ import annotations


def gemm(a, b, out=None, trans_a=False, trans_b=False, alpha=1.0, beta=0.0):
    """``alpha * op(a) @ op(b) + beta * out``."""
    r = alpha * ((a.T if trans_a else a) @ (b.T if trans_b else b))
    if out is not None and beta != 0.0:
        r = r + beta * out
    return r.astype(a.dtype, copy=False)


def linear_forward(x, weight, bias=None):
    """``x @ weight.T + bias``."""
    y = x @ weight.T
    return y if bias is None else y + bias


def linear_backward(grad_output, x, weight):
    """Gradients of :func:`linear_forward` with respect to input, weight and bias."""
    return grad_output @ weight, grad_output.T @ x, grad_output.sum(axis=0)
