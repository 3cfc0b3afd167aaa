"""``Conv2d`` and ``Conv1d`` over NCHW / NCL batches (PyTorch layout and initialisation)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlx._validation import as_int, shape_str
from dlx.nn import init
from dlx.nn.functional import conv1d, conv2d
from dlx.nn.functional._conv_transpose import single
from dlx.nn.functional._util import pair, spatial_out
from dlx.nn.modules._layer_utils import check_input, float_dtype, jsonable
from dlx.nn.modules.module import Module
from dlx.nn.parameter import Parameter
from dlx.tensor import Tensor


class Conv2d(Module):
    """2-D cross-correlation with weight ``(out_channels, in_channels // groups, kH, kW)``.

    Weight and bias start as PyTorch's default: kaiming_uniform_ with a = sqrt(5) for the
    weight, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias, fan_in = in/groups * kH * kW.

    Parameters
    ----------
    in_channels, out_channels : int
        Channels of the input and the output (both divisible by ``groups``).
    kernel_size : int or pair
    stride, dilation : int or pair
        Positive (default 1).
    padding : int, pair, "valid" or "same"
        Zero padding (default 0).
    groups : int
        Blocked connections (default 1).
    bias : bool
        Learn an additive bias (default True).
    padding_mode : str
        Only "zeros" is supported.
    dtype : numpy dtype, optional
        float32 (default) or float64.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.in_channels = as_int(in_channels, "in_channels")
        self.out_channels = as_int(out_channels, "out_channels")
        self.groups = as_int(groups, "groups")
        if self.groups < 1:
            msg = f"Conv2d: `groups` must be positive, got {self.groups}"
            raise ValueError(msg)
        for name, n in (("in_channels", self.in_channels), ("out_channels", self.out_channels)):
            if n < 1 or n % self.groups:
                msg = (
                    f"Conv2d: `{name}` must be a positive multiple of groups={self.groups}, got {n}"
                )
                raise ValueError(msg)
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2d", minimum=1)
        self.stride = pair(stride, "stride", "Conv2d", minimum=1)
        self.dilation = pair(dilation, "dilation", "Conv2d", minimum=1)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                msg = (
                    f"Conv2d: `padding` must be an int, a pair, 'same' or 'valid', got {padding!r}"
                )
                raise ValueError(msg)
            if padding == "same" and self.stride != (1, 1):
                msg = f"Conv2d: `padding`='same' needs stride 1, got stride={self.stride}"
                raise ValueError(msg)
            self.padding: tuple[int, int] | str = padding
        else:
            self.padding = pair(padding, "padding", "Conv2d", minimum=0)
        if padding_mode != "zeros":
            msg = f"Conv2d: `padding_mode` must be 'zeros' (the only mode supported), got {padding_mode!r}"
            raise ValueError(msg)
        self.padding_mode = padding_mode
        dt = float_dtype(dtype)
        shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=dt))
        if bias:
            self.bias = Parameter(np.empty((self.out_channels,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw weight and bias with PyTorch's default initialisation."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_channels // self.groups * self.kernel_size[0] * self.kernel_size[1]
            bound = 1 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound)

    def _check(self, shape: tuple[int, ...]) -> None:
        check_input(
            self,
            shape,
            (4,),
            self.in_channels,
            f"(N, {self.in_channels}, H, W) for weight of shape {shape_str(self.weight.shape)}",
        )

    def forward(self, input: Tensor) -> Tensor:
        self._check(tuple(getattr(input, "shape", ())))
        return conv2d(
            input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of ``forward``'s output for an input of ``input_shape`` (no computation)."""
        self._check(tuple(input_shape))
        if self.padding == "same":
            return (input_shape[0], self.out_channels, input_shape[2], input_shape[3])
        padding = (0, 0) if self.padding == "valid" else self.padding
        assert not isinstance(padding, str)
        h, w = spatial_out(
            type(self).__name__,
            tuple(input_shape),
            self.kernel_size,
            self.stride,
            padding,
            self.dilation,
            ceil_mode=False,
        )
        return (input_shape[0], self.out_channels, h, w)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += (
                f", padding={self.padding!r}"
                if isinstance(self.padding, str)
                else f", padding={self.padding}"
            )
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": jsonable(self.kernel_size),
            "stride": jsonable(self.stride),
            "padding": jsonable(self.padding),
            "dilation": jsonable(self.dilation),
            "groups": self.groups,
            "bias": self.bias is not None,
            "padding_mode": self.padding_mode,
            "dtype": self.weight.dtype.name,
        }


class Conv1d(Module):
    """1-D cross-correlation with weight ``(out_channels, in_channels // groups, k)``.

    Input ``(N, C_in, L)``; the same arguments and default initialisation as PyTorch's
    ``Conv1d`` (fan_in = in/groups * k). ``padding`` is an int, "valid" or "same".
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int],
        stride: int | tuple[int] = 1,
        padding: int | tuple[int] | str = 0,
        dilation: int | tuple[int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = "Conv1d"
        self.in_channels, self.out_channels, self.groups = _channels(
            name, in_channels, out_channels, groups
        )
        self.kernel_size = single(kernel_size, "kernel_size", name, minimum=1)
        self.stride = single(stride, "stride", name, minimum=1)
        self.dilation = single(dilation, "dilation", name, minimum=1)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                msg = f"{name}: `padding` must be an int, 'same' or 'valid', got {padding!r}"
                raise ValueError(msg)
            if padding == "same" and self.stride != 1:
                msg = f"{name}: `padding`='same' needs stride 1, got stride={self.stride}"
                raise ValueError(msg)
            self.padding: int | str = padding
        else:
            self.padding = single(padding, "padding", name)
        if padding_mode != "zeros":
            msg = f"{name}: `padding_mode` must be 'zeros' (the only mode supported), got {padding_mode!r}"
            raise ValueError(msg)
        self.padding_mode = padding_mode
        dt = float_dtype(dtype)
        shape = (self.out_channels, self.in_channels // self.groups, self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=dt))
        if bias:
            self.bias = Parameter(np.empty((self.out_channels,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw weight and bias with PyTorch's default initialisation."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_channels // self.groups * self.kernel_size)
            init.uniform_(self.bias, -bound, bound)

    def _check(self, shape: tuple[int, ...]) -> None:
        what = f"(N, {self.in_channels}, L) for weight of shape {shape_str(self.weight.shape)}"
        check_input(self, shape, (3,), self.in_channels, what)

    def forward(self, input: Tensor) -> Tensor:
        self._check(tuple(getattr(input, "shape", ())))
        return conv1d(
            input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of ``forward``'s output for an input of ``input_shape`` (no computation)."""
        self._check(tuple(input_shape))
        n, _, length = input_shape
        if self.padding == "same":
            return (n, self.out_channels, length)
        p = 0 if self.padding == "valid" else int(self.padding)
        span = length + 2 * p - self.dilation * (self.kernel_size - 1) - 1
        if span < 0:
            msg = f"Conv1d: the (padded) input of shape {shape_str(input_shape)} is smaller than the (dilated) kernel {self.kernel_size}"
            raise ValueError(msg)
        return (n, self.out_channels, span // self.stride + 1)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size=({self.kernel_size},), stride=({self.stride},)"
        if self.padding != 0:
            s += f", padding={self.padding!r}"
        if self.dilation != 1:
            s += f", dilation=({self.dilation},)"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        return {
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
            "kernel_size": self.kernel_size,
            "stride": self.stride,
            "padding": self.padding,
            "dilation": self.dilation,
            "groups": self.groups,
            "bias": self.bias is not None,
            "padding_mode": self.padding_mode,
            "dtype": self.weight.dtype.name,
        }


def _channels(name: str, in_channels: Any, out_channels: Any, groups: Any) -> tuple[int, int, int]:
    i, o, g = (
        as_int(in_channels, "in_channels"),
        as_int(out_channels, "out_channels"),
        as_int(groups, "groups"),
    )
    if g < 1:
        msg = f"{name}: `groups` must be positive, got {g}"
        raise ValueError(msg)
    for arg, n in (("in_channels", i), ("out_channels", o)):
        if n < 1 or n % g:
            msg = f"{name}: `{arg}` must be a positive multiple of groups={g}, got {n}"
            raise ValueError(msg)
    return i, o, g
