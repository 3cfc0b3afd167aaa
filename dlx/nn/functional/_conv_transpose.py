"""``conv1d`` and ``conv_transpose2d``, built on the conv2d ops of ``_conv`` (PyTorch layout).

``conv1d`` is ``conv2d`` on a unit height axis. ``conv_transpose2d`` is conv2d's input
gradient (``Conv2dInputGrad``): its backward is conv2d's forward (input gradient) and
conv2d's weight gradient, both already kernels, and its double backward is theirs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dlx._ops.elementwise import as_tensor
from dlx._validation import as_int, same_float_dtype, shape_str
from dlx.nn.functional._conv import Conv2dInputGrad, _Pad2d, conv2d
from dlx.nn.functional._util import pair
from dlx.tensor import Tensor


def single(value: object, name: str, fn: str, minimum: int = 0) -> int:
    """``value`` (an int or a 1-sequence of int) as an int >= minimum."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != 1:
            msg = f"{fn}: `{name}` must be an int or a 1-tuple, got {tuple(value)!r}"
            raise ValueError(msg)
        value = value[0]
    try:
        v = as_int(value, name)
    except TypeError:
        msg = f"{fn}: `{name}` must be an int or a 1-tuple, got {value!r}"
        raise TypeError(msg) from None
    if v < minimum:
        rule = "positive" if minimum == 1 else f">= {minimum}"
        msg = f"{fn}: `{name}` must be {rule}, got {v}"
        raise ValueError(msg)
    return v


def conv1d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: int | tuple[int] = 1,
    padding: int | tuple[int] | str = 0,
    dilation: int | tuple[int] = 1,
    groups: int = 1,
) -> Tensor:
    """1-D cross-correlation over an NCL batch (PyTorch's ``F.conv1d``).

    Parameters
    ----------
    input : Tensor
        Shape ``(N, C_in, L)``.
    weight : Tensor
        Shape ``(C_out, C_in // groups, k)``.
    bias : Tensor, optional
        Shape ``(C_out,)``.
    stride, dilation : int
        Positive.
    padding : int, "valid" or "same"
        Zero padding on both ends ("same": stride 1, extra zero at the end when odd).
    groups : int
        Divides ``C_in`` and ``C_out``.

    Returns
    -------
    Tensor
        Shape ``(N, C_out, L_out)``.
    """
    x, w = as_tensor(input), as_tensor(weight)
    if x.ndim != 3:
        msg = f"conv1d: `input` must be 3-D (N, C, L), got shape {shape_str(x.shape)}"
        raise ValueError(msg)
    if w.ndim != 3:
        msg = f"conv1d: `weight` must be 3-D (out_channels, in_channels/groups, k), got shape {shape_str(w.shape)}"
        raise ValueError(msg)
    g = pair(groups, "groups", "conv1d", minimum=1, single=True)[0]
    if x.shape[1] != w.shape[1] * g:
        msg = (
            f"conv1d: expected `input` with {w.shape[1] * g} channels (weight of shape "
            f"{shape_str(w.shape)}, groups={g}), got input of shape {shape_str(x.shape)}"
        )
        raise ValueError(msg)
    s = single(stride, "stride", "conv1d", minimum=1)
    d = single(dilation, "dilation", "conv1d", minimum=1)
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            msg = f"conv1d: `padding` must be an int, 'same' or 'valid', got {padding!r}"
            raise ValueError(msg)
        if padding == "same" and s != 1:
            msg = f"conv1d: `padding`='same' needs stride 1, got stride={s}"
            raise ValueError(msg)
        pad: tuple[int, int] | str = padding
    else:
        pad = (0, single(padding, "padding", "conv1d"))
    y = conv2d(x.unsqueeze(2), w.unsqueeze(2), bias, (1, s), pad, (1, d), g)
    return y.squeeze(2)


def _transposed_size(
    n: int, k: int, s: int, p: int, d: int, op: int
) -> int:  # PyTorch's output-size formula
    return (n - 1) * s - 2 * p + d * (k - 1) + op + 1


def conv_transpose2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    output_padding: int | tuple[int, int] = 0,
    groups: int = 1,
    dilation: int | tuple[int, int] = 1,
) -> Tensor:
    """2-D transposed convolution over an NCHW batch (PyTorch's ``F.conv_transpose2d``).

    Parameters
    ----------
    input : Tensor
        Shape ``(N, C_in, H, W)``.
    weight : Tensor
        Shape ``(C_in, C_out // groups, kH, kW)``.
    bias : Tensor, optional
        Shape ``(C_out,)``.
    stride, dilation : int or pair
        Positive.
    padding : int or pair
        Implicit zero padding ``dilation * (k - 1) - padding`` of the input (>= 0).
    output_padding : int or pair
        Extra rows/columns at the bottom/right of the output; smaller than ``stride`` or
        ``dilation``.
    groups : int
        Divides ``C_in`` and ``C_out``.

    Returns
    -------
    Tensor
        Shape ``(N, C_out, H_out, W_out)`` with
        ``H_out = (H - 1) * stride - 2 * padding + dilation * (kH - 1) + output_padding + 1``.
    """
    fn = "conv_transpose2d"
    x, w = as_tensor(input), as_tensor(weight)
    b = None if bias is None else as_tensor(bias)
    s = pair(stride, "stride", fn, minimum=1)
    p = pair(padding, "padding", fn, minimum=0)
    op = pair(output_padding, "output_padding", fn, minimum=0)
    d = pair(dilation, "dilation", fn, minimum=1)
    g = pair(groups, "groups", fn, minimum=1, single=True)[0]
    if x.ndim != 4:
        msg = f"{fn}: `input` must be 4-D (N, C, H, W), got shape {shape_str(x.shape)}"
        raise ValueError(msg)
    if w.ndim != 4:
        msg = f"{fn}: `weight` must be 4-D (in_channels, out_channels/groups, kH, kW), got shape {shape_str(w.shape)}"
        raise ValueError(msg)
    c_in, out_per_group, kh, kw = w.shape
    if c_in % g:
        msg = f"{fn}: `weight` has {c_in} input channels, not divisible by groups={g}"
        raise ValueError(msg)
    if x.shape[1] != c_in:
        msg = (
            f"{fn}: expected `input` with {c_in} channels (weight of shape "
            f"{shape_str(w.shape)}), got input of shape {shape_str(x.shape)}"
        )
        raise ValueError(msg)
    c_out = out_per_group * g
    if b is not None and b.shape != (c_out,):
        msg = f"{fn}: `bias` must have shape ({c_out},), got {shape_str(b.shape)}"
        raise ValueError(msg)
    for i in range(2):
        if op[i] >= s[i] and op[i] >= d[i]:
            msg = f"{fn}: `output_padding` must be smaller than `stride` or `dilation`, got output_padding={op}, stride={s}, dilation={d}"
            raise ValueError(msg)
    same_float_dtype(fn, input=x._data, weight=w._data, bias=None if b is None else b._data)
    n, _, h, wd = x.shape
    out = tuple(
        _transposed_size(size, k, s[i], p[i], d[i], op[i])
        for i, (size, k) in enumerate(((h, kh), (wd, kw)))
    )
    if min(out) < 1:
        msg = f"{fn}: the output would have size {out} for input of shape {shape_str(x.shape)}; lower `padding`"
        raise ValueError(msg)
    if op[0] < s[0] and op[1] < s[1]:
        # conv2d of an (N, C_out, *out) image gives back (H, W): y is its input gradient.
        y = Conv2dInputGrad.apply(x, w, shape=(n, c_out, *out), args=(s, p, d, g))
    else:
        # output_padding >= stride (allowed when below dilation): build the unpadded
        # result, then crop `padding` and extend the far side with zero rows/columns.
        full = tuple(_transposed_size(size, k, s[i], 0, d[i], 0) for i, (size, k) in
                     enumerate(((h, kh), (wd, kw))))  # fmt: skip
        y = Conv2dInputGrad.apply(x, w, shape=(n, c_out, *full), args=(s, (0, 0), d, g))
        y = y[:, :, p[0] : min(full[0], p[0] + out[0]), p[1] : min(full[1], p[1] + out[1])]
        extra = (out[0] - y.shape[2], out[1] - y.shape[3])
        if extra != (0, 0):
            y = _Pad2d.apply(y, pads=(0, extra[0], 0, extra[1]))
    if b is not None:
        y = y + b.reshape(1, c_out, 1, 1)
    return y
