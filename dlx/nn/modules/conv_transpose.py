"""``ConvTranspose2d``: the input gradient of ``Conv2d`` as a layer (PyTorch layout)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlx._validation import as_int, shape_str
from dlx.nn import init
from dlx.nn.functional import conv_transpose2d
from dlx.nn.functional._util import pair
from dlx.nn.modules._layer_utils import check_input, float_dtype, jsonable
from dlx.nn.modules.conv import _channels
from dlx.nn.modules.module import Module
from dlx.nn.parameter import Parameter
from dlx.tensor import Tensor


class ConvTranspose2d(Module):
    """2-D transposed convolution with weight ``(in_channels, out_channels // groups, kH, kW)``.

    The gradient of ``Conv2d`` with respect to its input, as a layer (PyTorch's
    ``ConvTranspose2d``, same arguments, layout and default initialisation: fan_in is
    ``out_channels / groups * kH * kW``, read from the weight's second axis).
    ``forward(input, output_size=None)``: ``output_size`` (the last two, or all, output
    dimensions) picks the output padding, as in PyTorch.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        output_padding: int | tuple[int, int] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | tuple[int, int] = 1,
        padding_mode: str = "zeros",
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = "ConvTranspose2d"
        self.in_channels, self.out_channels, self.groups = _channels(
            name, in_channels, out_channels, groups
        )
        self.kernel_size = pair(kernel_size, "kernel_size", name, minimum=1)
        self.stride = pair(stride, "stride", name, minimum=1)
        self.padding = pair(padding, "padding", name, minimum=0)
        self.output_padding = pair(output_padding, "output_padding", name, minimum=0)
        self.dilation = pair(dilation, "dilation", name, minimum=1)
        for i in range(2):
            if self.output_padding[i] >= max(self.stride[i], self.dilation[i]):
                msg = (
                    f"{name}: `output_padding` must be smaller than `stride` or `dilation`, got "
                    f"output_padding={self.output_padding}, stride={self.stride}, dilation={self.dilation}"
                )
                raise ValueError(msg)
        if padding_mode != "zeros":
            msg = f"{name}: `padding_mode` must be 'zeros' (the only mode supported), got {padding_mode!r}"
            raise ValueError(msg)
        self.padding_mode = padding_mode
        dt = float_dtype(dtype)
        shape = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
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
            kh, kw = self.kernel_size
            bound = 1 / math.sqrt(self.out_channels // self.groups * kh * kw)
            init.uniform_(self.bias, -bound, bound)

    def _check(self, shape: tuple[int, ...]) -> None:
        what = f"(N, {self.in_channels}, H, W) for weight of shape {shape_str(self.weight.shape)}"
        check_input(self, shape, (4,), self.in_channels, what)

    def _output_padding(self, shape: tuple[int, ...], output_size: Any) -> tuple[int, int]:
        if output_size is None:
            return self.output_padding
        size = [as_int(v, "output_size") for v in output_size]
        if len(size) == 4:
            size = size[2:]
        if len(size) != 2:
            msg = f"ConvTranspose2d: `output_size` must have 2 or 4 entries, got {tuple(output_size)!r}"
            raise ValueError(msg)
        out = []
        for i in range(2):
            least = (
                (shape[2 + i] - 1) * self.stride[i]
                - 2 * self.padding[i]
                + self.dilation[i] * (self.kernel_size[i] - 1)
                + 1
            )
            if not least <= size[i] < least + self.stride[i]:
                msg = (
                    f"ConvTranspose2d: `output_size` {tuple(size)} is out of reach: dimension "
                    f"{i} must lie in [{least}, {least + self.stride[i] - 1}] for input of shape "
                    f"{shape_str(shape)}"
                )
                raise ValueError(msg)
            out.append(size[i] - least)
        return (out[0], out[1])

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:
        shape = tuple(getattr(input, "shape", ()))
        self._check(shape)
        return conv_transpose2d(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self._output_padding(shape, output_size),
            self.groups,
            self.dilation,
        )

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of ``forward``'s output for an input of ``input_shape`` (no computation)."""
        shape = tuple(input_shape)
        self._check(shape)
        hw = [
            (shape[2 + i] - 1) * self.stride[i]
            - 2 * self.padding[i]
            + self.dilation[i] * (self.kernel_size[i] - 1)
            + self.output_padding[i]
            + 1
            for i in range(2)
        ]
        if min(hw) < 1:
            msg = f"ConvTranspose2d: the output would have size {tuple(hw)} for input of shape {shape_str(shape)}"
            raise ValueError(msg)
        return (shape[0], self.out_channels, hw[0], hw[1])

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
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
            "output_padding": jsonable(self.output_padding),
            "groups": self.groups,
            "bias": self.bias is not None,
            "dilation": jsonable(self.dilation),
            "padding_mode": self.padding_mode,
            "dtype": self.weight.dtype.name,
        }
