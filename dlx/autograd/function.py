"""The graph node (PyTorch's ``Function``/ctx), from the compiled core.

Each op is a :class:`Function` subclass with two static methods::

    class Exp(Function):
        double_backward = True          # backward below also works on Tensors
        @staticmethod
        def forward(ctx, x):            # NumPy arrays in (Tensor arguments are unwrapped)
            y = np.exp(x)
            ctx.save_for_backward(y)    # checked against in-place changes at backward
            return y                    # an ndarray (or a tuple of them) out
        @staticmethod
        def backward(ctx, grad):        # one grad per output in, one per positional input out
            (y,) = ctx.saved_tensors
            return grad * y

``Exp.apply(t)`` runs ``forward`` on ``t``'s array and, when grad mode is on and an input
requires grad, returns a Tensor whose ``grad_fn`` is the ctx (the node). Keyword
arguments of ``apply`` are passed to ``forward`` and are never differentiated.

In a plain backward, ``grad`` and ``ctx.saved_tensors`` are arrays. Under
``backward(create_graph=True)`` they are Tensors (saved inputs and outputs connected to
the graph) when the class sets ``double_backward = True``; such a backward must then use
operators and ops that accept both (``Function.apply`` on plain arrays returns arrays).
Without it, higher-order gradients through the op raise ``NotImplementedError``.

A kernel-backed op follows the same pattern (kernels refuse strided arrays, hence
``c_contiguous``; ``ctx.needs_input_grad`` maps onto the kernels' ``*_grad`` flags).
Forward may return several arrays (``return y, indices``): each becomes a Tensor; integer
outputs and those passed to ``ctx.mark_non_differentiable`` get no gradient, and
``backward`` receives one gradient per output (zeros where none arrived).
"""

from __future__ import annotations

from dlx._autograd import Function, RemovableHandle
from dlx._ops._common import c_contiguous
from dlx._ops.shape import unbroadcast

__all__ = ["Function", "RemovableHandle", "c_contiguous", "unbroadcast"]
