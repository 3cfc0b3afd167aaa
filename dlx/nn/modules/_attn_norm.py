"""``_LayerNorm``: a composite layer norm for the Transformer layers of this module family.

A stand-in with ``nn.LayerNorm``'s constructor and parameter names (``weight``, ``bias``),
so a state dict moves unchanged to ``nn.LayerNorm`` when that layer replaces it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx._validation import as_int, shape_str
from dlx.nn import init
from dlx.nn.modules._layer_utils import float_dtype
from dlx.nn.modules.module import Module
from dlx.nn.parameter import Parameter
from dlx.tensor import Tensor


def normalized_shape_of(value: Any) -> tuple[int, ...]:
    """``normalized_shape`` (an int or a sequence of positive ints) as a tuple."""
    dims = (value,) if isinstance(value, int) and not isinstance(value, bool) else tuple(value)
    out = tuple(as_int(d, "normalized_shape") for d in dims)
    if not out or min(out) < 1:
        msg = f"_LayerNorm: `normalized_shape` must be positive ints, got {out}"
        raise ValueError(msg)
    return out


class _LayerNorm(Module):
    """``(x - mean) / sqrt(var + eps) * weight + bias`` over the last dimensions."""

    def __init__(
        self,
        normalized_shape: int | tuple[int, ...],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.normalized_shape = normalized_shape_of(normalized_shape)
        self.eps = float(eps)
        if not self.eps > 0:
            msg = f"_LayerNorm: `eps` must be positive, got {eps}"
            raise ValueError(msg)
        self.elementwise_affine = bool(elementwise_affine)
        dt = float_dtype(dtype)
        if self.elementwise_affine:
            self.weight = Parameter(np.empty(self.normalized_shape, dtype=dt))
            if bias:
                self.bias = Parameter(np.empty(self.normalized_shape, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self._dtype = dt
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weight ones, bias zeros (PyTorch's default)."""
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        k = len(self.normalized_shape)
        shape = tuple(getattr(input, "shape", ()))
        if shape[len(shape) - k :] != self.normalized_shape:
            msg = f"{self!r}: expected input ending in {shape_str(self.normalized_shape)}, got shape {shape_str(shape)}"
            raise ValueError(msg)
        dims = tuple(range(-k, 0))
        mean = input.mean(dims, keepdim=True)
        centred = input - mean
        var = (centred * centred).mean(dims, keepdim=True)
        y = centred * (var + self.eps).rsqrt()
        if self.weight is not None:
            y = y * self.weight
        if self.bias is not None:
            y = y + self.bias
        return y

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The input's shape."""
        return tuple(input_shape)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        return {
            "normalized_shape": list(self.normalized_shape),
            "eps": self.eps,
            "elementwise_affine": self.elementwise_affine,
            "bias": self.bias is not None,
            "dtype": self._dtype.name,
        }
