"""``MaxPool2d`` and ``AvgPool2d`` over NCHW batches."""

from __future__ import annotations

from typing import Any

from dlx.nn.functional import avg_pool2d, max_pool2d
from dlx.nn.functional._util import pair, spatial_out
from dlx.nn.modules._layer_utils import check_input, jsonable
from dlx.nn.modules.module import Module
from dlx.tensor import Tensor


def _pool_config(
    layer: str, kernel_size: Any, stride: Any, padding: Any
) -> tuple[int | tuple[int, int], int | tuple[int, int], int | tuple[int, int]]:
    """Validated hyper-parameters, kept as given (int or pair) like PyTorch does."""
    k = pair(kernel_size, "kernel_size", layer, minimum=1)
    s = k if stride is None else pair(stride, "stride", layer, minimum=1)
    p = pair(padding, "padding", layer, minimum=0)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        msg = f"{layer}: `padding` must be at most half of `kernel_size` {k}, got {p}"
        raise ValueError(msg)

    def keep(v: Any, t: tuple[int, int]) -> Any:
        return v if isinstance(v, int) and not isinstance(v, bool) else t

    return (
        keep(kernel_size, k),
        (kernel_size if stride is None else keep(stride, s)),
        keep(padding, p),
    )


class _Pool2d(Module):
    kernel_size: Any
    stride: Any
    padding: Any
    dilation: Any = 1
    ceil_mode: bool

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of ``forward``'s output for an input of ``input_shape`` (no computation)."""
        shape = tuple(input_shape)
        check_input(self, shape, (4,), None, "(N, C, H, W)")
        h, w = spatial_out(
            type(self).__name__,
            shape,
            pair(self.kernel_size, "kernel_size", ""),
            pair(self.stride, "stride", ""),
            pair(self.padding, "padding", ""),
            pair(self.dilation, "dilation", ""),
            self.ceil_mode,
        )
        return (shape[0], shape[1], h, w)


class MaxPool2d(_Pool2d):
    """Max over ``kernel_size`` windows (``stride`` defaults to ``kernel_size``)."""

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = _pool_config(
            "MaxPool2d", kernel_size, stride, padding
        )
        d = pair(dilation, "dilation", "MaxPool2d", minimum=1)
        self.dilation = dilation if isinstance(dilation, int) else d
        self.return_indices = bool(return_indices)
        self.ceil_mode = bool(ceil_mode)

    def forward(self, input: Tensor) -> Any:
        check_input(self, tuple(getattr(input, "shape", ())), (4,), None, "(N, C, H, W)")
        return max_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            self.ceil_mode,
            self.return_indices,
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        return {
            "kernel_size": jsonable(self.kernel_size),
            "stride": jsonable(self.stride),
            "padding": jsonable(self.padding),
            "dilation": jsonable(self.dilation),
            "return_indices": self.return_indices,
            "ceil_mode": self.ceil_mode,
        }


class AvgPool2d(_Pool2d):
    """Mean over ``kernel_size`` windows (``stride`` defaults to ``kernel_size``)."""

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = _pool_config(
            "AvgPool2d", kernel_size, stride, padding
        )
        self.ceil_mode = bool(ceil_mode)
        self.count_include_pad = bool(count_include_pad)

    def forward(self, input: Tensor) -> Tensor:
        check_input(self, tuple(getattr(input, "shape", ())), (4,), None, "(N, C, H, W)")
        return avg_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        return {
            "kernel_size": jsonable(self.kernel_size),
            "stride": jsonable(self.stride),
            "padding": jsonable(self.padding),
            "ceil_mode": self.ceil_mode,
            "count_include_pad": self.count_include_pad,
        }
