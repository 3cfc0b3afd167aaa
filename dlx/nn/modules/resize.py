"""``Upsample``, ``AdaptiveAvgPool2d`` and ``AdaptiveMaxPool2d`` (stateless, NCHW)."""

from __future__ import annotations

import math
from typing import Any

from dlx.nn.functional import adaptive_avg_pool2d, adaptive_max_pool2d, interpolate
from dlx.nn.functional._resize import _adaptive_size
from dlx.nn.functional._util import pair
from dlx.nn.modules._layer_utils import check_input, jsonable
from dlx.nn.modules.module import Module
from dlx.tensor import Tensor


class Upsample(Module):
    """``F.interpolate`` as a layer: ``size`` or ``scale_factor``, mode "nearest" or
    "bilinear" (``align_corners`` for bilinear only)."""

    def __init__(
        self,
        size: int | tuple[int, int] | None = None,
        scale_factor: float | tuple[float, float] | None = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
        recompute_scale_factor: bool | None = None,
    ) -> None:
        super().__init__()
        if mode not in ("nearest", "bilinear"):
            msg = f"Upsample: `mode` must be 'nearest' or 'bilinear', got {mode!r}"
            raise ValueError(msg)
        if (size is None) == (scale_factor is None):
            msg = "Upsample: exactly one of `size` and `scale_factor` must be given"
            raise ValueError(msg)
        if align_corners is not None and mode == "nearest":
            msg = "Upsample: `align_corners` only applies to mode 'bilinear'"
            raise ValueError(msg)
        self.size = None if size is None else pair(size, "size", "Upsample", minimum=1)
        if isinstance(scale_factor, list):
            scale_factor = tuple(scale_factor)
        self.scale_factor = scale_factor
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return interpolate(
            input,
            self.size,
            self.scale_factor,
            self.mode,
            self.align_corners,
            self.recompute_scale_factor,
        )

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of ``forward``'s output for an input of ``input_shape`` (no computation)."""
        shape = tuple(input_shape)
        check_input(self, shape, (4,), None, "(N, C, H, W)")
        if self.size is not None:
            return (*shape[:2], *self.size)
        sf: Any = self.scale_factor
        s = sf if isinstance(sf, tuple) else (sf, sf)
        return (*shape[:2], math.floor(shape[2] * s[0]), math.floor(shape[3] * s[1]))

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        return {
            "size": jsonable(self.size),
            "scale_factor": jsonable(self.scale_factor),
            "mode": self.mode,
            "align_corners": self.align_corners,
            "recompute_scale_factor": self.recompute_scale_factor,
        }


class _Adaptive(Module):
    output_size: Any

    def _out(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        check_input(self, shape, (4,), None, "(N, C, H, W)")
        return (*shape[:2], *_adaptive_size(type(self).__name__, self.output_size, *shape[2:]))

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of ``forward``'s output for an input of ``input_shape`` (no computation)."""
        return self._out(tuple(input_shape))

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


def _output_size(name: str, output_size: Any) -> Any:
    if isinstance(output_size, list):
        output_size = tuple(output_size)
    probe = output_size if isinstance(output_size, tuple) else (output_size, output_size)
    _adaptive_size(name, probe, 1, 1)  # validates ints >= 1 (None allowed)
    return output_size


class AdaptiveAvgPool2d(_Adaptive):
    """Average over PyTorch's adaptive windows to ``output_size`` (None keeps a side)."""

    def __init__(self, output_size: int | tuple[int | None, int | None]) -> None:
        super().__init__()
        self.output_size = _output_size("AdaptiveAvgPool2d", output_size)

    def forward(self, input: Tensor) -> Tensor:
        self._out(tuple(getattr(input, "shape", ())))
        return adaptive_avg_pool2d(input, self.output_size)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        return {"output_size": jsonable(self.output_size)}


class AdaptiveMaxPool2d(_Adaptive):
    """Max over PyTorch's adaptive windows; ``return_indices`` adds the flat offsets."""

    def __init__(
        self, output_size: int | tuple[int | None, int | None], return_indices: bool = False
    ) -> None:
        super().__init__()
        self.output_size = _output_size("AdaptiveMaxPool2d", output_size)
        self.return_indices = bool(return_indices)

    def forward(self, input: Tensor) -> Any:
        self._out(tuple(getattr(input, "shape", ())))
        return adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        return {"output_size": jsonable(self.output_size), "return_indices": self.return_indices}
