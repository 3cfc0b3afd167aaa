"""The graph node: a differentiable op with its saved arrays (PyTorch's ``Function``/ctx).

Each op is a :class:`Function` subclass with two static methods::

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):            # NumPy arrays in (Tensor arguments are unwrapped)
            y = np.exp(x)
            ctx.save_for_backward(y)    # checked against in-place changes at backward
            return y                    # one ndarray out
        @staticmethod
        def backward(ctx, grad):        # grad of the output -> one grad per positional input
            (y,) = ctx.saved_arrays
            return grad * y

``Exp.apply(t)`` runs ``forward`` on ``t.data`` and, when grad mode is on and an input
requires grad, returns a Tensor whose ``grad_fn`` is the ctx (the node). Keyword arguments
of ``apply`` are passed to ``forward`` and are never differentiated.

A kernel-backed op follows the same pattern (kernels refuse strided arrays, hence
``c_contiguous``; ``ctx.needs_input_grad`` maps onto the kernels' ``*_grad`` flags)::

    class Conv2d(Function):
        @staticmethod
        def forward(ctx, x, w, b, stride, padding):
            x, w = c_contiguous(x), c_contiguous(w)
            ctx.save_for_backward(x, w)
            ctx.stride, ctx.padding = stride, padding
            return _core.conv2d_forward(x, w, b, stride, padding)
        @staticmethod
        def backward(ctx, g):
            x, w = ctx.saved_arrays
            nx, nw, nb = ctx.needs_input_grad
            return _core.conv2d_backward(c_contiguous(g), x, w, ctx.stride, ctx.padding,
                                         input_grad=nx, weight_grad=nw, bias_grad=nb)

    Conv2d.apply(x, w, b, stride=1, padding=0)  # b may be None: its gradient is skipped
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from dlx._grad_mode import _state
from dlx.tensor import Tensor

__all__ = ["Function", "c_contiguous", "unbroadcast"]


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes NumPy broadcasting added or stretched, down to ``shape``."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1
    )
    if axes:
        grad = grad.sum(axis=axes)
    return grad.reshape(shape)


def c_contiguous(a: np.ndarray) -> np.ndarray:
    """``a`` itself when C-contiguous, else a C-ordered copy (kernels refuse strided arrays)."""
    return a if a.flags.c_contiguous else np.array(a, order="C")


class Function:
    """Base class of every differentiable op; an instance is both ctx and graph node.

    Attributes set by :meth:`apply`: ``needs_input_grad`` (one bool per positional
    argument), ``parents`` (per positional argument: the producing node, the leaf Tensor,
    or None when no gradient flows there). ``forward``/``backward`` may store any other
    attribute on ctx. ``backward`` must not modify its ``grad`` argument in place (it may
    be shared or read-only); it returns an array, or a tuple with one entry per positional
    input (None where no gradient is needed; trailing entries may be left off).
    """

    # Index of the positional input whose memory the output may alias (view ops); the
    # output then shares that tensor's version counter.
    _view_of: int | None = None

    needs_input_grad: tuple[bool, ...]
    parents: tuple[Any, ...]  # per input: producing Function, leaf Tensor, or None
    _out_shape: tuple[int, ...]
    _out_dtype: np.dtype
    # Class-level defaults, overridden per instance when set.
    _saved: tuple[Any, ...] = ()
    _versions: list[tuple[int, list[int], int]] = []  # (input index or -1, counter, version)  # noqa: RUF012
    _freed: bool = False
    _retained: weakref.ref[Tensor] | None = None

    @staticmethod
    def forward(ctx: Function, *args: object, **kwargs: object) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Function, grad: np.ndarray) -> object:
        raise NotImplementedError

    # -- saved arrays ---------------------------------------------------------------
    def save_for_backward(self, *arrays: Any) -> None:
        """Keep arrays for backward; inputs and output saved here are version-checked."""
        self._saved = arrays

    @property
    def saved_arrays(self) -> tuple[Any, ...]:
        """The arrays given to :meth:`save_for_backward`."""
        if self._freed:
            raise RuntimeError(_FREED_MSG)
        return self._saved

    saved_tensors = saved_arrays  # PyTorch spelling

    def _free(self) -> None:
        """Drop saved arrays and edges after backward (unless the graph is retained)."""
        self._saved = ()
        self._versions = []
        self.parents = ()
        self._freed = True

    def name(self) -> str:
        """PyTorch-style node name, e.g. ``MulBackward``."""
        return f"{type(self).__name__}Backward"

    def __repr__(self) -> str:
        return f"<{self.name()}>"

    # -- graph construction -----------------------------------------------------------
    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Tensor:
        """Run ``forward`` on the arrays of ``args`` and record a node when needed."""
        ctx = cls.__new__(cls)
        arrays = [a.data if isinstance(a, Tensor) else a for a in args]
        needs = tuple([isinstance(a, Tensor) and a._requires_grad for a in args])
        record = _state.enabled and True in needs
        ctx.needs_input_grad = needs if record else (False,) * len(needs)
        out = cls.forward(ctx, *arrays, **kwargs)
        if type(out) is not np.ndarray:
            out = np.asarray(out)

        vc = None
        if cls._view_of is not None:
            src = args[cls._view_of]
            if isinstance(src, Tensor) and np.may_share_memory(out, src.data):
                vc = src._vc
        if not record or out.dtype.kind != "f":
            return Tensor._make(out, None, False, vc)

        ctx.parents = tuple(
            [
                (a._node if a._node is not None else a) if n else None
                for a, n in zip(args, needs, strict=True)
            ]
        )
        ctx._out_shape = out.shape
        ctx._out_dtype = out.dtype
        t = Tensor._make(out, ctx, True, vc)
        if not ctx._saved:
            return t
        versions: list[tuple[int, list[int], int]] = []
        s: Any
        for s in ctx._saved:
            if s is None or type(s) is not np.ndarray:
                continue
            if s is out:
                versions.append((-1, t._vc, t._vc[0]))
                continue
            for i, a in enumerate(args):
                if isinstance(a, Tensor) and a.data is s:
                    versions.append((i, a._vc, a._vc[0]))
                    break
        ctx._versions = versions
        return t

    def _check_versions(self) -> None:
        """RuntimeError when a saved input or output was changed in place since forward."""
        for i, vc, v in self._versions:
            if vc[0] != v:
                what = "its output" if i < 0 else f"its input {i}"
                msg = (
                    f"an array needed for gradient computation has been modified by an "
                    f"in-place operation: {what} was saved at version {v} and is now at "
                    f"version {vc[0]} (node {self.name()}). Use an out-of-place op, or "
                    f"modify the tensor only after backward."
                )
                raise RuntimeError(msg)


_FREED_MSG = (
    "Trying to backward through the graph a second time (or to use saved arrays after they "
    "were freed). The graph's saved arrays are freed by .backward() and autograd.grad(); "
    "pass retain_graph=True to the first call if you need to backward through it again."
)
