"""Activations, ``maxout`` and the softmax family over the kernels of ``dlx._core``.

Every op takes any shape (``prelu``/``maxout``: channels on axis 1) and float32/float64.
"""

from __future__ import annotations

import math
from typing import Any

from dlx._native import _core
from dlx._ops.elementwise import as_tensor
from dlx._validation import as_int, normalize_axis, same_float_dtype, shape_str
from dlx.autograd.function import Function, c_contiguous
from dlx.tensor import Tensor

# name -> (forward kernel, backward kernel, backward takes the output instead of the input)
_KERNELS = {
    "relu": (_core.relu_forward, _core.relu_backward, False),
    "leaky_relu": (_core.leaky_relu_forward, _core.leaky_relu_backward, False),
    "abs_relu": (_core.abs_relu_forward, _core.abs_relu_backward, False),
    "elu": (_core.elu_forward, _core.elu_backward, False),
    "gelu": (_core.gelu_forward, _core.gelu_backward, False),
    "silu": (_core.silu_forward, _core.silu_backward, False),
    "sigmoid": (_core.sigmoid_forward, _core.sigmoid_backward, True),
    "tanh": (_core.tanh_forward, _core.tanh_backward, True),
    "softplus": (_core.softplus_forward, _core.softplus_backward, False),
    "hardtanh": (_core.hardtanh_forward, _core.hardtanh_backward, False),
}


class Activation(Function):
    """One elementwise kernel pair; ``kind`` picks it, ``params`` are its scalars."""

    kind: str
    params: tuple[Any, ...]

    @staticmethod
    def forward(ctx, x, kind, params):
        fwd, _, uses_output = _KERNELS[kind]
        x = c_contiguous(x)
        y = fwd(x, *params)
        ctx.save_for_backward(y if uses_output else x)
        ctx.kind, ctx.params = kind, params
        return y

    def name(self) -> str:
        return "".join(p.capitalize() for p in self.kind.split("_")) + "Backward"

    @staticmethod
    def backward(ctx, g):
        (saved,) = ctx.saved_arrays
        return _KERNELS[ctx.kind][1](c_contiguous(g), saved, *ctx.params)


def _float(input: Any, fn: str) -> Tensor:
    x = as_tensor(input)
    same_float_dtype(fn, input=x.data)
    return x


def _number(value: Any, name: str, fn: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"{fn}: `{name}` must be a real number, got {value!r}"
        raise TypeError(msg)
    if not math.isfinite(value):
        msg = f"{fn}: `{name}` must be finite, got {value}"
        raise ValueError(msg)
    return float(value)


def _act(input: Any, kind: str, *params: Any) -> Tensor:
    return Activation.apply(_float(input, kind), kind=kind, params=params)


def relu(input: Any) -> Tensor:
    """``max(x, 0)``."""
    return _act(input, "relu")


def leaky_relu(input: Any, negative_slope: float = 0.01) -> Tensor:
    """``x`` for ``x > 0``, else ``negative_slope * x``."""
    return _act(input, "leaky_relu", _number(negative_slope, "negative_slope", "leaky_relu"))


def abs_relu(input: Any) -> Tensor:
    """``|x|`` (absolute-value rectification); the gradient at 0 is 0."""
    return _act(input, "abs_relu")


def elu(input: Any, alpha: float = 1.0) -> Tensor:
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``."""
    return _act(input, "elu", _number(alpha, "alpha", "elu"))


def gelu(input: Any, approximate: str = "none") -> Tensor:
    """``x * Phi(x)``; ``approximate="tanh"`` uses the tanh formula."""
    if approximate not in ("none", "tanh"):
        msg = f"gelu: `approximate` must be 'none' or 'tanh', got {approximate!r}"
        raise ValueError(msg)
    return _act(input, "gelu", approximate)


def silu(input: Any) -> Tensor:
    """``x * sigmoid(x)`` (swish)."""
    return _act(input, "silu")


def sigmoid(input: Any) -> Tensor:
    """``1 / (1 + exp(-x))``."""
    return _act(input, "sigmoid")


def tanh(input: Any) -> Tensor:
    """Hyperbolic tangent."""
    return _act(input, "tanh")


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta * x)) / beta``, linear where ``beta * x > threshold``."""
    b = _number(beta, "beta", "softplus")
    if b == 0:
        msg = "softplus: `beta` must be non-zero, got 0"
        raise ValueError(msg)
    return _act(input, "softplus", b, _number(threshold, "threshold", "softplus"))


def hardtanh(input: Any, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """Clip to ``[min_val, max_val]``."""
    lo = _number(min_val, "min_val", "hardtanh")
    hi = _number(max_val, "max_val", "hardtanh")
    if lo > hi:
        msg = f"hardtanh: `min_val` must not exceed `max_val`, got min_val={lo}, max_val={hi}"
        raise ValueError(msg)
    return _act(input, "hardtanh", lo, hi)


class PReLU(Function):
    @staticmethod
    def forward(ctx, x, w):
        x, w = c_contiguous(x), c_contiguous(w)
        ctx.save_for_backward(x, w)
        return _core.prelu_forward(x, w)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_arrays
        gx, gw = _core.prelu_backward(c_contiguous(g), x, w)
        return gx, gw


def prelu(input: Any, weight: Any) -> Tensor:
    """``x`` for ``x > 0``, else ``weight * x``; ``weight`` is ``(C,)`` on axis 1 or ``(1,)``."""
    x, w = as_tensor(input), as_tensor(weight)
    same_float_dtype("prelu", input=x.data, weight=w.data)
    if w.ndim != 1 or (w.shape[0] != 1 and (x.ndim < 2 or w.shape[0] != x.shape[1])):
        channels = x.shape[1] if x.ndim >= 2 else "?"
        msg = (
            f"prelu: `weight` must have shape (1,) or ({channels},) (the channels of `input` "
            f"of shape {shape_str(x.shape)}), got {shape_str(w.shape)}"
        )
        raise ValueError(msg)
    return PReLU.apply(x, w)


class Maxout(Function):
    @staticmethod
    def forward(ctx, x, pieces):
        y, idx = _core.maxout_forward(c_contiguous(x), pieces)
        ctx.save_for_backward(idx)
        ctx.pieces = pieces
        return y

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_arrays
        return _core.maxout_backward(c_contiguous(g), idx, ctx.pieces)


def maxout(input: Any, pieces: int) -> Tensor:
    """Max over groups of ``pieces`` consecutive channels: ``(N, C*pieces, ...) -> (N, C, ...)``."""
    x = _float(input, "maxout")
    k = as_int(pieces, "pieces")
    if k < 1:
        msg = f"maxout: `pieces` must be positive, got {k}"
        raise ValueError(msg)
    if x.ndim < 2 or x.shape[1] % k:
        msg = (
            f"maxout: `input` must be at least 2-D with channels (axis 1) divisible by "
            f"pieces={k}, got shape {shape_str(x.shape)}"
        )
        raise ValueError(msg)
    return Maxout.apply(x, pieces=k)


class Softmax(Function):
    axis: int
    log: bool

    @staticmethod
    def forward(ctx, x, axis, log):
        y = (_core.log_softmax_forward if log else _core.softmax_forward)(c_contiguous(x), axis)
        ctx.save_for_backward(y)
        ctx.axis, ctx.log = axis, log
        return y

    def name(self) -> str:
        return "LogSoftmaxBackward" if self.log else "SoftmaxBackward"

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_arrays
        bwd = _core.log_softmax_backward if ctx.log else _core.softmax_backward
        return bwd(c_contiguous(g), y, ctx.axis)


def _softmax(input: Any, dim: Any, fn: str, log: bool) -> Tensor:
    x = _float(input, fn)
    if dim is None:
        msg = f"{fn}: `dim` must be given (the axis to normalise over)"
        raise TypeError(msg)
    axis = normalize_axis(dim, x.ndim, "dim")
    if x.ndim == 0:
        x = x.reshape(1)
        return Softmax.apply(x, axis=0, log=log).reshape(())
    return Softmax.apply(x, axis=axis, log=log)


def softmax(input: Any, dim: int) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim`` (max-subtracted, stable)."""
    return _softmax(input, dim, "softmax", False)


def log_softmax(input: Any, dim: int) -> Tensor:
    """``x - logsumexp(x)`` along ``dim``."""
    return _softmax(input, dim, "log_softmax", True)
