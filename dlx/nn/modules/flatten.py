"""``Flatten``: merge dimensions ``start_dim..end_dim`` (batch kept by default);
``Unflatten``: split one dimension."""

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


class Unflatten(Module):
    """Split axis ``dim`` into ``unflattened_size`` (one entry may be -1), the inverse of
    :class:`Flatten`: ``Unflatten(1, (C, H, W))`` turns ``(N, C*H*W)`` into ``(N, C, H, W)``."""

    def __init__(self, dim: int, unflattened_size: Any) -> None:
        super().__init__()
        self.dim = as_int(dim, "dim")
        if isinstance(unflattened_size, int) or not hasattr(unflattened_size, "__iter__"):
            msg = (
                "Unflatten: `unflattened_size` must be a tuple or list of ints, got "
                f"{type(unflattened_size).__name__}"
            )
            raise TypeError(msg)
        size = tuple(as_int(s, "unflattened_size") for s in unflattened_size)
        if not size or sum(s == -1 for s in size) > 1 or any(s < -1 for s in size):
            msg = (
                "Unflatten: `unflattened_size` must be a non-empty shape with at most one -1 "
                f"and no other negative size, got {size}"
            )
            raise ValueError(msg)
        self.unflattened_size = size

    def _split(self, s: tuple[int, ...]) -> tuple[int, ...]:
        d = normalize_axis(self.dim, len(s), "dim")
        size = list(self.unflattened_size)
        known = math.prod(v for v in size if v != -1)
        if -1 in size:
            if known == 0 or s[d] % known:
                msg = f"{self!r}: cannot split axis {d} of size {s[d]} into {self.unflattened_size}"
                raise ValueError(msg)
            size[size.index(-1)] = s[d] // known
        elif known != s[d]:
            msg = (
                f"{self!r}: `unflattened_size` {self.unflattened_size} must multiply to the size "
                f"of axis {d} ({s[d]}) of input shape {s}"
            )
            raise ValueError(msg)
        return (*s[:d], *size, *s[d + 1 :])

    def forward(self, input: Tensor) -> Tensor:
        return input.reshape(self._split(tuple(input.shape)))

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """``input_shape`` with axis ``dim`` split (checked)."""
        return self._split(tuple(input_shape))

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        return {"dim": self.dim, "unflattened_size": list(self.unflattened_size)}

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
