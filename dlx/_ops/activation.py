"""Activations, ``prelu``, ``maxout`` and the softmax family over the kernels of ``_core``.

These are the one definition of each op: ``dlx.relu``, ``Tensor.relu`` and
``dlx.nn.functional.relu`` are the same function. Every op takes any shape
(``prelu``/``maxout``: channels on axis 1) and float32/float64. A plain backward runs the
C++ gradient kernel; under ``create_graph`` the gradient is recorded as an op of its own
(``ActivationGrad`` with its second derivative, the softmax formulas, maxout's scatter and
gather), so gradients of any order work.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlx._autograd import Function, TensorBase
from dlx._native import _core
from dlx._ops._common import as_tensor, c_contiguous, is_array, value
from dlx._ops.shape import sum_to
from dlx._ops.unary import Exp
from dlx._validation import as_int, normalize_axis, same_float_dtype, shape_str

__all__ = [
    "abs_relu",
    "elu",
    "gelu",
    "hardtanh",
    "leaky_relu",
    "log_softmax",
    "maxout",
    "prelu",
    "relu",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "tanh",
]

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
_SQRT_2_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class Activation(Function):
    """One elementwise kernel pair; ``kind`` picks it, ``params`` are its scalars."""

    __slots__ = ("kind", "params")

    double_backward = True

    @staticmethod
    def forward(ctx, x, kind, params):
        fwd, _, uses_output = _KERNELS[kind]
        y = fwd(c_contiguous(x), *params)
        ctx.save_for_backward(y if uses_output else x)
        ctx.kind, ctx.params = kind, params
        return y

    def name(self) -> str:
        return "".join(p.capitalize() for p in self.kind.split("_")) + "Backward"

    @staticmethod
    def backward(ctx, g):
        (saved,) = ctx.saved_tensors
        if is_array(g):
            return _KERNELS[ctx.kind][1](c_contiguous(g), c_contiguous(saved), *ctx.params)
        return ActivationGrad.apply(g, saved, kind=ctx.kind, params=ctx.params)


class ActivationGrad(Function):
    """``g * f'(s)`` (``s`` the input, or the output for sigmoid/tanh): the gradient of an
    activation as an op, so it can be differentiated again."""

    __slots__ = ("kind", "params")

    double_backward = True

    @staticmethod
    def forward(ctx, g, s, kind, params):
        ctx.save_for_backward(g, s)
        ctx.kind, ctx.params = kind, params
        return _KERNELS[kind][1](c_contiguous(g), c_contiguous(s), *params)

    @staticmethod
    def backward(ctx, gg):
        g, s = ctx.saved_tensors
        ng, ns = ctx.needs_input_grad
        dg = ActivationGrad.apply(gg, s, kind=ctx.kind, params=ctx.params) if ng else None
        ds = None
        if ns:
            curv = _curvature(ctx.kind, ctx.params, s)
            ds = None if curv is None else gg * g * curv
        return dg, ds


def _mask(s: Any, cond: np.ndarray) -> np.ndarray:
    return cond.astype(value(s).dtype)


def _curvature(kind: str, params: tuple[Any, ...], s: Any) -> Any:
    """d f'(s) / ds for ``ActivationGrad``; None where it is zero everywhere."""
    if kind in ("relu", "leaky_relu", "abs_relu", "hardtanh"):
        return None  # piecewise linear
    if kind == "sigmoid":  # f' = y (1 - y)
        return 1 - 2 * s
    if kind == "tanh":  # f' = 1 - y^2
        return -2 * s
    if kind == "elu":
        (alpha,) = params
        return Exp.apply(s) * (_mask(s, value(s) <= 0) * alpha)
    if kind == "softplus":
        beta, threshold = params
        sig = Activation.apply(s * beta, kind="sigmoid", params=())
        return sig * (1 - sig) * (_mask(s, value(s) * beta <= threshold) * beta)
    if kind == "silu":
        sig = Activation.apply(s, kind="sigmoid", params=())
        return sig * (1 - sig) * (2 + s * (1 - 2 * sig))
    if kind == "gelu":
        if params[0] == "none":  # f'' = phi(x) (2 - x^2)
            return Exp.apply(s * s * -0.5) * _INV_SQRT_2PI * (2 - s * s)
        k = 0.044715
        u = (s + s * s * s * k) * _SQRT_2_PI
        t = Activation.apply(u, kind="tanh", params=())
        du = (1 + s * s * (3 * k)) * _SQRT_2_PI
        ddu = s * (6 * k * _SQRT_2_PI)
        return (1 - t * t) * (du + s * 0.5 * (ddu - t * du * du * 2))
    msg = f"no second derivative for activation {kind!r}"
    raise NotImplementedError(msg)


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _float(input: Any, fn: str) -> Any:
    if isinstance(input, TensorBase) and input._data.dtype in _FLOATS:
        return input
    x = as_tensor(input)
    same_float_dtype(fn, input=x._data)
    return x


def _number(value: Any, name: str, fn: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"{fn}: `{name}` must be a real number, got {value!r}"
        raise TypeError(msg)
    if not math.isfinite(value):
        msg = f"{fn}: `{name}` must be finite, got {value}"
        raise ValueError(msg)
    return float(value)


def _act(input: Any, kind: str, *params: Any) -> Any:
    return Activation.apply(_float(input, kind), kind=kind, params=params)


def relu(input: Any) -> Any:
    """``max(x, 0)``; the gradient at 0 is 0."""
    return _act(input, "relu")


def leaky_relu(input: Any, negative_slope: float = 0.01) -> Any:
    """``x`` for ``x > 0``, else ``negative_slope * x``."""
    return _act(input, "leaky_relu", _number(negative_slope, "negative_slope", "leaky_relu"))


def abs_relu(input: Any) -> Any:
    """``|x|`` (absolute-value rectification); the gradient at 0 is 0."""
    return _act(input, "abs_relu")


def elu(input: Any, alpha: float = 1.0) -> Any:
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``."""
    return _act(input, "elu", _number(alpha, "alpha", "elu"))


def gelu(input: Any, approximate: str = "none") -> Any:
    """``x * Phi(x)``; ``approximate="tanh"`` uses the tanh formula."""
    if approximate not in ("none", "tanh"):
        msg = f"gelu: `approximate` must be 'none' or 'tanh', got {approximate!r}"
        raise ValueError(msg)
    return _act(input, "gelu", approximate)


def silu(input: Any) -> Any:
    """``x * sigmoid(x)`` (swish)."""
    return _act(input, "silu")


def sigmoid(input: Any) -> Any:
    """``1 / (1 + exp(-x))``, computed stably."""
    return _act(input, "sigmoid")


def tanh(input: Any) -> Any:
    """Hyperbolic tangent."""
    return _act(input, "tanh")


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> Any:
    """``log(1 + exp(beta * x)) / beta``, linear where ``beta * x > threshold``."""
    b = _number(beta, "beta", "softplus")
    if b == 0:
        msg = "softplus: `beta` must be non-zero, got 0"
        raise ValueError(msg)
    return _act(input, "softplus", b, _number(threshold, "threshold", "softplus"))


def hardtanh(input: Any, min_val: float = -1.0, max_val: float = 1.0) -> Any:
    """Clip to ``[min_val, max_val]``."""
    lo = _number(min_val, "min_val", "hardtanh")
    hi = _number(max_val, "max_val", "hardtanh")
    if lo > hi:
        msg = f"hardtanh: `min_val` must not exceed `max_val`, got min_val={lo}, max_val={hi}"
        raise ValueError(msg)
    return _act(input, "hardtanh", lo, hi)


class PReLU(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return _core.prelu_forward(c_contiguous(x), c_contiguous(w))

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        if is_array(g):
            return _core.prelu_backward(c_contiguous(g), c_contiguous(x), c_contiguous(w))
        nx, nw = ctx.needs_input_grad
        neg = _mask(x, value(x) <= 0)
        shape = (1,) * x.ndim if w.shape[0] == 1 else (1, w.shape[0]) + (1,) * (x.ndim - 2)
        wb = w.reshape(shape)
        gx = g * (1 - neg) + g * neg * wb if nx else None
        gw = sum_to(g * x * neg, shape).reshape(w.shape) if nw else None
        return gx, gw


def prelu(input: Any, weight: Any) -> Any:
    """``x`` for ``x > 0``, else ``weight * x``; ``weight`` is ``(C,)`` on axis 1 or ``(1,)``."""
    x, w = as_tensor(input), as_tensor(weight)
    same_float_dtype("prelu", input=x._data, weight=w._data)
    if w.ndim != 1 or (w.shape[0] != 1 and (x.ndim < 2 or w.shape[0] != x.shape[1])):
        channels = x.shape[1] if x.ndim >= 2 else "?"
        msg = (
            f"prelu: `weight` must have shape (1,) or ({channels},) (the channels of `input` "
            f"of shape {shape_str(x.shape)}), got {shape_str(w.shape)}"
        )
        raise ValueError(msg)
    return PReLU.apply(x, w)


class Maxout(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, x, pieces):
        y, idx = _core.maxout_forward(c_contiguous(x), pieces)
        ctx.save_for_backward(idx)
        ctx.pieces = pieces
        return y

    @staticmethod
    def backward(ctx, g):
        (idx,) = ctx.saved_tensors
        return MaxoutScatter.apply(g, idx=idx, pieces=ctx.pieces)


class MaxoutScatter(Function):
    """Each output gradient to the input channel that won (maxout's backward)."""

    double_backward = True

    @staticmethod
    def forward(ctx, g, idx, pieces):
        ctx.idx, ctx.pieces = idx, pieces
        return _core.maxout_backward(c_contiguous(g), idx, pieces)

    @staticmethod
    def backward(ctx, gg):
        return MaxoutGather.apply(gg, idx=ctx.idx, pieces=ctx.pieces)


class MaxoutGather(Function):
    """The winning channel's value of each group (the adjoint of :class:`MaxoutScatter`)."""

    double_backward = True

    @staticmethod
    def forward(ctx, x, idx, pieces):
        ctx.idx, ctx.pieces = idx, pieces
        n, c = x.shape[:2]
        grouped = x.reshape((n, c // pieces, pieces, *x.shape[2:]))
        return np.take_along_axis(grouped, idx[:, :, None], axis=2)[:, :, 0]

    @staticmethod
    def backward(ctx, g):
        return MaxoutScatter.apply(g, idx=ctx.idx, pieces=ctx.pieces)


def maxout(input: Any, pieces: int) -> Any:
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
    __slots__ = ("axis", "log")
    double_backward = True

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
        (y,) = ctx.saved_tensors
        if is_array(g):
            bwd = _core.log_softmax_backward if ctx.log else _core.softmax_backward
            return bwd(c_contiguous(g), y, ctx.axis)
        from dlx._ops.reduce import Sum

        if ctx.log:  # g - softmax * sum(g)
            return g - Exp.apply(y) * Sum.apply(g, axes=(ctx.axis,), keepdims=True)
        return y * (g - Sum.apply(g * y, axes=(ctx.axis,), keepdims=True))


def _softmax(input: Any, dim: Any, fn: str, log: bool) -> Any:
    x = _float(input, fn)
    if dim is None:
        msg = f"{fn}: `dim` must be given (the axis to normalise over)"
        raise TypeError(msg)
    axis = normalize_axis(dim, x.ndim, "dim")
    if x.ndim == 0:
        x = x.reshape(1)
        return Softmax.apply(x, axis=0, log=log).reshape(())
    return Softmax.apply(x, axis=axis, log=log)


def softmax(input: Any, dim: int) -> Any:
    """``exp(x) / sum(exp(x))`` along ``dim`` (max-subtracted, stable)."""
    return _softmax(input, dim, "softmax", False)


def log_softmax(input: Any, dim: int) -> Any:
    """``x - logsumexp(x)`` along ``dim``."""
    return _softmax(input, dim, "log_softmax", True)
