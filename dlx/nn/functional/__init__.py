"""Stateless differentiable ops with PyTorch's names and argument order."""

from __future__ import annotations

from dlx._ops.shape import flatten
from dlx.nn.functional._linear import linear

__all__ = ["flatten", "linear"]
