"""``conv2d`` over the im2col + GEMM kernels of ``dlx._core`` (NCHW, PyTorch layout)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx._native import _core
from dlx._ops._common import is_array
from dlx._ops.elementwise import as_tensor
from dlx._validation import same_float_dtype, shape_str
from dlx.autograd.function import Function, c_contiguous
from dlx.nn.functional._util import pair, spatial_out
from dlx.tensor import Tensor


class Conv2d(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, x, w, b, stride, padding, dilation, groups):
        ctx.save_for_backward(x, w)
        ctx.args = (stride, padding, dilation, groups)
        return _core.conv2d_forward(
            c_contiguous(x),
            c_contiguous(w),
            None if b is None else c_contiguous(b),
            stride,
            padding,
            dilation,
            groups,
        )

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad
        if is_array(g):
            return _core.conv2d_backward(
                c_contiguous(g),
                c_contiguous(x),
                c_contiguous(w),
                *ctx.args,
                input_grad=nx,
                weight_grad=nw,
                bias_grad=nb,
            )
        # create_graph: both gradients are bilinear ops of their own (below).
        gx = Conv2dInputGrad.apply(g, w, shape=tuple(x.shape), args=ctx.args) if nx else None
        gw = Conv2dWeightGrad.apply(x, g, shape=tuple(w.shape), args=ctx.args) if nw else None
        gb = g.sum((0, 2, 3)) if nb else None
        return gx, gw, gb


def _conv(x: Any, w: Any, args: tuple[Any, ...]) -> Any:
    stride, padding, dilation, groups = args
    return Conv2d.apply(
        x, w, None, stride=stride, padding=padding, dilation=dilation, groups=groups
    )


class Conv2dInputGrad(Function):
    """``d conv2d(x, w) / d x`` applied to ``g`` (a transposed convolution of ``g`` by ``w``);
    linear in ``g`` and in ``w``."""

    double_backward = True

    @staticmethod
    def forward(ctx, g, w, shape, args):
        ctx.save_for_backward(g, w)
        ctx.shape, ctx.args = shape, args
        like = np.empty(shape, dtype=g.dtype)  # only its shape is read
        gx, _, _ = _core.conv2d_backward(
            c_contiguous(g),
            like,
            c_contiguous(w),
            *args,
            input_grad=True,
            weight_grad=False,
            bias_grad=False,
        )
        return gx

    @staticmethod
    def backward(ctx, gg):
        g, w = ctx.saved_tensors
        ng, nw = ctx.needs_input_grad
        dg = _conv(gg, w, ctx.args) if ng else None
        dw = Conv2dWeightGrad.apply(gg, g, shape=tuple(w.shape), args=ctx.args) if nw else None
        return dg, dw


class Conv2dWeightGrad(Function):
    """``d conv2d(x, w) / d w`` applied to ``g`` (the correlation of ``x`` with ``g``);
    linear in ``x`` and in ``g``."""

    double_backward = True

    @staticmethod
    def forward(ctx, x, g, shape, args):
        ctx.save_for_backward(x, g)
        ctx.shape, ctx.args = shape, args
        like = np.empty(shape, dtype=x.dtype)  # only its shape is read
        _, gw, _ = _core.conv2d_backward(
            c_contiguous(g),
            c_contiguous(x),
            like,
            *args,
            input_grad=False,
            weight_grad=True,
            bias_grad=False,
        )
        return gw

    @staticmethod
    def backward(ctx, gg):
        x, g = ctx.saved_tensors
        nx, ng = ctx.needs_input_grad
        dx = Conv2dInputGrad.apply(g, gg, shape=tuple(x.shape), args=ctx.args) if nx else None
        dg = _conv(x, gg, ctx.args) if ng else None
        return dx, dg


class _Pad2d(Function):
    """Zero padding (top, bottom, left, right) of the last two axes; backward slices."""

    double_backward = True

    @staticmethod
    def forward(ctx, x, pads):
        t, b, l, r = pads
        ctx.pads = pads
        return np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)))

    @staticmethod
    def backward(ctx, g):
        t, b, l, r = ctx.pads
        h, w = g.shape[2], g.shape[3]
        return g[:, :, t : h - b, l : w - r]


def _same_padding(
    kernel: tuple[int, int], dilation: tuple[int, int]
) -> tuple[tuple[int, int], tuple[int, int, int, int] | None]:
    """Symmetric padding for ``padding="same"`` and the extra bottom/right pad, if any."""
    total = [d * (k - 1) for k, d in zip(kernel, dilation, strict=True)]
    sym = (total[0] // 2, total[1] // 2)
    extra = (total[0] % 2, total[1] % 2)
    if extra == (0, 0):
        return sym, None
    return (0, 0), (sym[0], sym[0] + extra[0], sym[1], sym[1] + extra[1])


def conv2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation over an NCHW batch (PyTorch's ``F.conv2d``).

    Parameters
    ----------
    input : Tensor
        Shape ``(N, C_in, H, W)``.
    weight : Tensor
        Shape ``(C_out, C_in // groups, kH, kW)``.
    bias : Tensor, optional
        Shape ``(C_out,)``.
    stride, dilation : int or pair
        Positive.
    padding : int, pair, "valid" or "same"
        Zero padding on both sides; "same" (stride 1 only) keeps ``H, W``, padding one
        extra row/column at the bottom/right when the total is odd, as PyTorch does.
    groups : int
        Number of blocked connections; divides ``C_in`` and ``C_out``.

    Returns
    -------
    Tensor
        Shape ``(N, C_out, H_out, W_out)``.
    """
    x, w = as_tensor(input), as_tensor(weight)
    b = None if bias is None else as_tensor(bias)
    stride_ = pair(stride, "stride", "conv2d", minimum=1)
    dilation_ = pair(dilation, "dilation", "conv2d", minimum=1)
    groups_ = pair(groups, "groups", "conv2d", minimum=1, single=True)[0]
    if w.ndim != 4:
        msg = f"conv2d: `weight` must be 4-D (out_channels, in_channels/groups, kH, kW), got shape {shape_str(w.shape)}"
        raise ValueError(msg)
    if x.ndim != 4:
        msg = f"conv2d: `input` must be 4-D (N, C, H, W), got shape {shape_str(x.shape)}"
        raise ValueError(msg)
    out_ch, in_per_group, kh, kw = w.shape
    if out_ch % groups_:
        msg = f"conv2d: `weight` has {out_ch} output channels, not divisible by groups={groups_}"
        raise ValueError(msg)
    if x.shape[1] != in_per_group * groups_:
        msg = (
            f"conv2d: expected `input` with {in_per_group * groups_} channels (weight of shape "
            f"{shape_str(w.shape)}, groups={groups_}), got input of shape {shape_str(x.shape)}"
        )
        raise ValueError(msg)
    if b is not None and b.shape != (out_ch,):
        msg = f"conv2d: `bias` must have shape ({out_ch},), got {shape_str(b.shape)}"
        raise ValueError(msg)
    same_float_dtype("conv2d", input=x._data, weight=w._data, bias=None if b is None else b._data)
    pads = None
    if isinstance(padding, str):
        if padding == "valid":
            padding_ = (0, 0)
        elif padding == "same":
            if stride_ != (1, 1):
                msg = f"conv2d: `padding`='same' needs stride 1, got stride={stride_}"
                raise ValueError(msg)
            padding_, pads = _same_padding((kh, kw), dilation_)
        else:
            msg = f"conv2d: `padding` must be an int, a pair, 'same' or 'valid', got {padding!r}"
            raise ValueError(msg)
    else:
        padding_ = pair(padding, "padding", "conv2d", minimum=0)
    if pads is not None:
        x = _Pad2d.apply(x, pads=pads)
    spatial_out("conv2d", x.shape, (kh, kw), stride_, padding_, dilation_, ceil_mode=False)
    return Conv2d.apply(
        x, w, b, stride=stride_, padding=padding_, dilation=dilation_, groups=groups_
    )
