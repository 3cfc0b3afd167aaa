"""``Identity`` and ``Linear`` (PyTorch layout and default initialisation)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlx import _dtype
from dlx._validation import non_negative_int
from dlx.nn import init
from dlx.nn.functional import linear
from dlx.nn.modules.module import Module
from dlx.nn.parameter import Parameter
from dlx.tensor import Tensor


class Identity(Module):
    """Returns its input; accepts and ignores any constructor arguments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Any) -> Any:
        return input

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values (used by ``dlx.save``)."""
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
        dt = _dtype.default_float if dtype is None else _dtype.as_dtype(dtype)
        if dt not in (_dtype.float32, _dtype.float64):
            msg = f"`dtype` must be float32 or float64, got {dt}"
            raise TypeError(msg)
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

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values (used by ``dlx.save``)."""
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "bias": self.bias is not None,
        }
