"""``Flatten``: merge dimensions ``start_dim..end_dim`` (batch kept by default)."""

from __future__ import annotations

from dlx._ops.shape import flatten
from dlx._validation import as_int
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

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

    def get_config(self) -> dict[str, int]:
        """Constructor arguments as JSON-serialisable values (used by ``dlx.save``)."""
        return {"start_dim": self.start_dim, "end_dim": self.end_dim}
