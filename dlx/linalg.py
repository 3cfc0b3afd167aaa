"""``dlx.linalg``: norms (``norm``, ``vector_norm``, ``matrix_norm``) and the matrix
products PyTorch also lists here."""

from __future__ import annotations

from dlx._ops.linalg import matmul
from dlx._ops.norms import linalg_norm as norm
from dlx._ops.norms import matrix_norm, vector_norm

__all__ = ["matmul", "matrix_norm", "norm", "vector_norm"]
