"""``Identity`` and ``Linear`` (PyTorch layout and default initialisation)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlx._validation import non_negative_int, shape_str
from dlx.nn import init
from dlx.nn.functional import linear
from dlx.nn.modules._layer_utils import float_dtype
from dlx.nn.modules.module import Module
from dlx.nn.parameter import Parameter
from dlx.tensor import Tensor


class Identity(Module):
    """Returns its input; accepts and ignores any constructor arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input

    def _fusion(self) -> tuple[Any, ...] | None:
        return ("identity",) if type(self).forward is Identity.forward else None

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Same as the input shape."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values (none)."""
        return {}


class Linear(Module):
    """``y = x @ weight.T + bias`` with weight ``(out_features, in_features)``.

    Weight and bias start as U(-1/sqrt(in_features), 1/sqrt(in_features)), PyTorch's
    default (kaiming_uniform_ with a = sqrt(5)).

    Parameters
    ----------
    in_features, out_features : int
        Sizes of each input and output sample.
    bias : bool
        Learn an additive bias (default True).
    dtype : numpy dtype, optional
        float32 (default) or float64.
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None
    ) -> None:
        super().__init__()
        self.in_features = non_negative_int(in_features, "in_features")
        self.out_features = non_negative_int(out_features, "out_features")
        dt = float_dtype(dtype)
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dt))
        if bias:
            self.bias = Parameter(np.empty((self.out_features,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw weight and bias with PyTorch's default initialisation."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        return linear(input, self.weight, self.bias)

    def _fusion(self) -> tuple[Any, ...] | None:
        if type(self).forward is not Linear.forward:
            return None
        p = self._parameters
        return ("linear", p["weight"], p["bias"])

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """``input_shape`` with the last axis replaced by ``out_features`` (checked)."""
        s = tuple(input_shape)
        if not s or s[-1] != self.in_features:
            msg = (
                f"{self!r}: expected input of shape (*, {self.in_features}), got input of "
                f"shape {shape_str(s)}"
            )
            raise ValueError(msg)
        return (*s[:-1], self.out_features)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": self.bias is not None,
            "dtype": self.weight.dtype.name,
        }

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )
