"""Custom differentiable ops as PyTorch writes them: ``forward`` and ``backward`` see Tensors.

``dlx.autograd.Function`` (``torch.autograd.Function`` after ``import dlx as torch``) is
for user code::

    class MyReLU(dlx.autograd.Function):
        @staticmethod
        def forward(ctx, x):                 # Tensors in (not requiring grad), as in PyTorch
            ctx.save_for_backward(x)
            return x.clamp(min=0)            # a Tensor (or a tuple of them) out
        @staticmethod
        def backward(ctx, grad_output):      # Tensors in, one gradient per input out
            (x,) = ctx.saved_tensors
            grad = grad_output.clone()
            grad[x < 0] = 0
            return grad

It is the core's graph node with its ``forward``/``backward`` wrapped at class creation:
arrays become Tensors on the way in (no copy) and Tensors become their arrays on the way
out, so the recorded node is the same as an internal op's. dlx's own ops subclass the core
node (``dlx.autograd.function.Function``) directly and work on NumPy arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx._autograd import Function as _Node
from dlx._autograd import TensorBase, make_tensor
from dlx._grad_mode import no_grad

__all__ = ["Function"]


def _tensor(value: Any) -> Any:
    return make_tensor(value) if isinstance(value, np.ndarray) else value


def _array(value: Any) -> Any:
    return value._data if isinstance(value, TensorBase) else value


def _arrays(out: Any) -> Any:
    return tuple(_array(o) for o in out) if isinstance(out, tuple) else _array(out)


def _wrap_forward(user: Any) -> Any:
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        with no_grad():
            return _arrays(user(ctx, *[_tensor(a) for a in args], **kwargs))

    forward._dlx_tensor_wrapper = True  # type: ignore[attr-defined]
    forward.__wrapped__ = user  # type: ignore[attr-defined]
    return forward


def _wrap_backward(user: Any) -> Any:
    def backward(ctx: Any, *grads: Any) -> Any:
        result = user(ctx, *[_tensor(g) for g in grads])
        # Under create_graph with double_backward = True the engine works on Tensors.
        return result if ctx.create_graph else _arrays(result)

    backward._dlx_tensor_wrapper = True  # type: ignore[attr-defined]
    backward.__wrapped__ = user  # type: ignore[attr-defined]
    return backward


class Function(_Node):
    """Base class of user-defined differentiable ops, with PyTorch's Tensor interface.

    Subclasses define static ``forward(ctx, *args)`` and ``backward(ctx, *grads)`` on
    Tensors; call ``MyOp.apply(*args)``. ``ctx`` offers ``save_for_backward`` /
    ``saved_tensors`` (Tensors), ``needs_input_grad``, ``mark_non_differentiable``,
    ``mark_dirty``, ``set_materialize_grads`` and attributes of your own
    (``ctx.constant = c``). Set ``double_backward = True`` when ``backward`` is written
    with differentiable Tensor ops, so ``create_graph=True`` can differentiate it again.
    """

    __slots__ = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, wrap in (("forward", _wrap_forward), ("backward", _wrap_backward)):
            raw = cls.__dict__.get(name)
            if raw is None:
                continue
            fn = raw.__func__ if isinstance(raw, staticmethod) else raw
            if not getattr(fn, "_dlx_tensor_wrapper", False):
                setattr(cls, name, staticmethod(wrap(fn)))

    def save_for_backward(self, *values: Any) -> None:
        """Keep Tensors for backward (inputs and outputs are version-checked)."""
        super().save_for_backward(*[_array(v) for v in values])

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        """The saved values as Tensors."""
        return tuple(_tensor(v) for v in _Node.saved_tensors.__get__(self))

    def mark_non_differentiable(self, *outputs: Any) -> None:
        """Declare outputs (Tensors returned by forward) that have no gradient."""
        super().mark_non_differentiable(*[_array(o) for o in outputs])

    def mark_dirty(self, *inputs: Any) -> None:
        """Declare inputs (Tensors) that forward modified in place and returns."""
        super().mark_dirty(*[_array(t) for t in inputs])
