"""``Dropout``: random zeroing in training mode, identity in eval mode."""

from __future__ import annotations

from typing import Any

from dlx.nn.functional import dropout
from dlx.nn.modules.module import Module
from dlx.tensor import Tensor


class Dropout(Module):
    """Zero elements with probability ``p`` while training, scaling the rest by 1/(1-p).

    ``inplace`` is accepted for PyTorch compatibility; the result is always a new tensor.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
            msg = f"Dropout: `p` must be a probability in [0, 1], got {p!r}"
            raise ValueError(msg)
        self.p = float(p)
        self.inplace = bool(inplace)

    def forward(self, input: Tensor) -> Tensor:
        return dropout(input, self.p, self.training)

    def _fusion(self) -> tuple[Any, ...] | None:
        if type(self).forward is not Dropout.forward or (self.training and self.p > 0):
            return None
        return ("identity",)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Same as the input shape."""
        return tuple(input_shape)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        return {"p": self.p, "inplace": self.inplace}
