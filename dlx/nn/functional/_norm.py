"""``batch_norm`` over the fused kernels of ``dlx._core`` (channels on axis 1)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlx._native import _core
from dlx._ops._common import composite_backward, is_array
from dlx._ops.elementwise import as_tensor
from dlx._validation import same_float_dtype, shape_str
from dlx.autograd.function import Function, c_contiguous
from dlx.tensor import Tensor


class BatchNorm(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps):
        ctx.save_for_backward(x, weight)
        w = None if weight is None else c_contiguous(weight)
        b = None if bias is None else c_contiguous(bias)
        y, mean, invstd = _core.batch_norm_forward(
            c_contiguous(x), w, b, running_mean, running_var, training, momentum, eps
        )
        ctx.mean, ctx.invstd = mean, invstd
        ctx.training, ctx.eps = training, eps
        return y

    @staticmethod
    def composite(ctx: Any, x: Any, w: Any, b: Any) -> Any:
        """The normalisation in dlx ops: batch statistics when training (biased
        variance), the forward's running statistics (constants) otherwise."""
        axes = (0, *range(2, x.ndim))
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        if ctx.training:
            d = x - x.mean(axes, keepdim=True)
            xhat = d * ((d * d).mean(axes, keepdim=True) + ctx.eps) ** -0.5
        else:
            xhat = (x - ctx.mean.reshape(shape)) * ctx.invstd.reshape(shape)
        y = xhat if w is None else xhat * w.reshape(shape)
        return y if b is None else y + b.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        if not is_array(g):
            nb = ctx.needs_input_grad[2]
            gx, gw, _ = composite_backward(
                ctx, lambda a, c, _: BatchNorm.composite(ctx, a, c, None), (x, w, None), g
            )
            return gx, gw, (g.sum((0, *range(2, g.ndim))) if nb else None)
        gx, gw, gb = _core.batch_norm_backward(
            c_contiguous(g),
            c_contiguous(x),
            None if w is None else c_contiguous(w),
            ctx.mean,
            ctx.invstd,
            ctx.training,
        )
        return gx, gw, gb


def _stat(value: Any, name: str, channels: int, dtype: np.dtype) -> tuple[np.ndarray | None, Any]:
    """The array behind a running-statistics buffer, checked for in-place update."""
    if value is None:
        return None, None
    arr = value._data if isinstance(value, Tensor) else value
    if not isinstance(arr, np.ndarray) or arr.shape != (channels,):
        shape = getattr(arr, "shape", type(arr).__name__)
        msg = f"batch_norm: `{name}` must have shape ({channels},), got {shape}"
        raise ValueError(msg)
    if arr.dtype != dtype:
        msg = f"batch_norm: `{name}` has dtype {arr.dtype} but `input` has dtype {dtype}"
        raise TypeError(msg)
    if not (arr.flags.c_contiguous and arr.flags.writeable):
        msg = f"batch_norm: `{name}` must be a writeable C-contiguous array (updated in place)"
        raise ValueError(msg)
    return arr, value


def batch_norm(
    input: Any,
    running_mean: Any,
    running_var: Any,
    weight: Any = None,
    bias: Any = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalisation over axis 1 of ``(N, C)`` or ``(N, C, *spatial)`` (``F.batch_norm``).

    In training mode normalises with the batch statistics and, when given, updates
    ``running_mean``/``running_var`` in place (``(1 - momentum) * old + momentum * new``,
    unbiased variance); otherwise normalises with the running statistics (required).
    """
    x = as_tensor(input)
    if x.ndim < 2:
        msg = (
            f"batch_norm: `input` must be at least 2-D (N, C, ...), got shape {shape_str(x.shape)}"
        )
        raise ValueError(msg)
    c = x.shape[1]
    w = None if weight is None else as_tensor(weight)
    b = None if bias is None else as_tensor(bias)
    dtype = same_float_dtype(
        "batch_norm",
        input=x._data,
        weight=None if w is None else w._data,
        bias=None if b is None else b._data,
    )
    for name, t in (("weight", w), ("bias", b)):
        if t is not None and t.shape != (c,):
            msg = (
                f"batch_norm: `{name}` must have shape ({c},) for input of shape "
                f"{shape_str(x.shape)}, got {shape_str(t.shape)}"
            )
            raise ValueError(msg)
    rm, rm_t = _stat(running_mean, "running_mean", c, dtype)
    rv, rv_t = _stat(running_var, "running_var", c, dtype)
    if (rm is None) != (rv is None):
        msg = "batch_norm: give both `running_mean` and `running_var`, or neither"
        raise ValueError(msg)
    training = bool(training)
    if not training and rm is None:
        msg = "batch_norm: `running_mean` and `running_var` are required when training=False"
        raise ValueError(msg)
    if not (isinstance(momentum, int | float) and 0.0 <= momentum <= 1.0):
        msg = f"batch_norm: `momentum` must be in [0, 1], got {momentum!r}"
        raise ValueError(msg)
    if not (isinstance(eps, int | float) and eps > 0 and math.isfinite(eps)):
        msg = f"batch_norm: `eps` must be a positive number, got {eps!r}"
        raise ValueError(msg)
    if training and x._data.size // max(c, 1) <= 1 and x._data.size > 0:
        msg = (
            f"batch_norm: expected more than 1 value per channel when training, got input of "
            f"shape {shape_str(x.shape)}"
        )
        raise ValueError(msg)
    out = BatchNorm.apply(
        x,
        w,
        b,
        running_mean=rm,
        running_var=rv,
        training=training,
        momentum=float(momentum),
        eps=float(eps),
    )
    if training:
        for t in (rm_t, rv_t):
            if isinstance(t, Tensor):
                t._bump_version()  # updated in place by the kernel
    return out
