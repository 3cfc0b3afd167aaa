"""``max_pool2d`` and ``avg_pool2d`` over the pooling kernels of ``dlx._core`` (NCHW)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx._native import _core
from dlx._ops.elementwise import as_tensor
from dlx._validation import same_float_dtype, shape_str
from dlx.autograd.function import Function, c_contiguous
from dlx.nn.functional._util import pair, spatial_out
from dlx.tensor import Tensor


class MaxPool2d(Function):
    """Two outputs: the maxima and their int64 flat offsets within each input plane."""

    double_backward = True

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, dilation, ceil_mode):
        y, idx = _core.max_pool2d_forward(
            c_contiguous(x), kernel_size, stride, padding, dilation, ceil_mode
        )
        ctx.save_for_backward(idx)
        ctx.input_shape = x.shape
        return y, idx

    @staticmethod
    def backward(ctx, g, _g_idx):
        (idx,) = ctx.saved_tensors
        return MaxPoolScatter.apply(g, idx=idx, shape=ctx.input_shape)


class MaxPoolScatter(Function):
    """Each output gradient to the input element that held the maximum (max pooling's
    backward); linear in the gradient, its adjoint is :class:`MaxPoolGather`."""

    double_backward = True

    @staticmethod
    def forward(ctx, g, idx, shape):
        ctx.idx = idx
        return _core.max_pool2d_backward(c_contiguous(g), idx, shape)

    @staticmethod
    def backward(ctx, gg):
        return MaxPoolGather.apply(gg, idx=ctx.idx)


class MaxPoolGather(Function):
    """The element of each input plane at the pooling indices."""

    double_backward = True

    @staticmethod
    def forward(ctx, x, idx):
        ctx.idx, ctx.shape = idx, x.shape
        n, c = idx.shape[:2]
        flat = x.reshape(n, c, -1)
        return np.take_along_axis(flat, idx.reshape(n, c, -1), axis=2).reshape(idx.shape)

    @staticmethod
    def backward(ctx, g):
        return MaxPoolScatter.apply(g, idx=ctx.idx, shape=ctx.shape)


class AvgPool2d(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, ceil_mode, count_include_pad):
        ctx.input_shape = x.shape
        ctx.args = (kernel_size, stride, padding, ceil_mode, count_include_pad)
        return _core.avg_pool2d_forward(c_contiguous(x), *ctx.args)

    @staticmethod
    def backward(ctx, g):
        return AvgPoolAdjoint.apply(g, shape=ctx.input_shape, args=ctx.args)


class AvgPoolAdjoint(Function):
    """Average pooling's backward (each window's gradient spread over its taps); its
    adjoint is average pooling itself."""

    double_backward = True

    @staticmethod
    def forward(ctx, g, shape, args):
        ctx.args = args
        return _core.avg_pool2d_backward(c_contiguous(g), shape, *args)

    @staticmethod
    def backward(ctx, gg):
        return AvgPool2d.apply(gg, *ctx.args)


def _pool_args(
    fn: str, input: Any, kernel_size: Any, stride: Any, padding: Any, dilation: Any
) -> tuple[Tensor, tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]:
    x = as_tensor(input)
    if x.ndim != 4:
        msg = f"{fn}: `input` must be 4-D (N, C, H, W), got shape {shape_str(x.shape)}"
        raise ValueError(msg)
    same_float_dtype(fn, input=x._data)
    k = pair(kernel_size, "kernel_size", fn, minimum=1)
    s = k if stride is None or stride == () else pair(stride, "stride", fn, minimum=1)
    p = pair(padding, "padding", fn, minimum=0)
    d = pair(dilation, "dilation", fn, minimum=1)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        msg = f"{fn}: `padding` must be at most half of `kernel_size` {k}, got {p}"
        raise ValueError(msg)
    return x, k, s, p, d


def max_pool2d(
    input: Any,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """2-D max pooling over an NCHW batch (PyTorch's ``F.max_pool2d``).

    ``stride`` defaults to ``kernel_size``; ``padding`` (implicit -inf) is at most half
    the kernel. With ``return_indices`` also returns int64 flat offsets ``h * W + w``
    of each maximum within its input plane.
    """
    x, k, s, p, d = _pool_args("max_pool2d", input, kernel_size, stride, padding, dilation)
    spatial_out("max_pool2d", x.shape, k, s, p, d, bool(ceil_mode))
    out, indices = MaxPool2d.apply(
        x, kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=bool(ceil_mode)
    )
    return (out, indices) if return_indices else out


def avg_pool2d(
    input: Any,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """2-D average pooling over an NCHW batch (PyTorch's ``F.avg_pool2d``).

    ``count_include_pad`` divides by the full window (zeros of the padding included);
    otherwise by the number of taps inside the input.
    """
    x, k, s, p, _ = _pool_args("avg_pool2d", input, kernel_size, stride, padding, 1)
    spatial_out("avg_pool2d", x.shape, k, s, p, (1, 1), bool(ceil_mode))
    return AvgPool2d.apply(
        x,
        kernel_size=k,
        stride=s,
        padding=p,
        ceil_mode=bool(ceil_mode),
        count_include_pad=bool(count_include_pad),
    )
