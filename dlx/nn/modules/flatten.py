"""``Flatten``: merge dimensions ``start_dim..end_dim`` (batch kept by default)."""

from __future__ import annotations

import math
from typing import Any

from dlx._ops.shape import flatten
from dlx._validation import as_int, normalize_axis
from dlx.nn.modules.module import Module
from dlx.tensor import Tensor


class Flatten(Module):
    """Flatten ``(N, C, H, W)`` to ``(N, C*H*W)`` (default ``start_dim=1, end_dim=-1``)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = as_int(start_dim, "start_dim")
        self.end_dim = as_int(end_dim, "end_dim")

    def forward(self, input: Tensor) -> Tensor:
        return flatten(input, self.start_dim, self.end_dim)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """``input_shape`` with axes ``start_dim..end_dim`` merged."""
        s = tuple(input_shape)
        if not s:
            return (1,)
        a = normalize_axis(self.start_dim, len(s), "start_dim")
        b = normalize_axis(self.end_dim, len(s), "end_dim")
        return (*s[:a], math.prod(s[a : b + 1]), *s[b + 1 :]) if a <= b else s

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        return {"start_dim": self.start_dim, "end_dim": self.end_dim}

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
