"""Plain NumPy reference implementations of every dlx kernel.

They are the specification the C++ kernels are tested against and the baseline the
C++ vs NumPy benchmarks time. They favour clarity over speed, but use vectorised NumPy
(no per-element Python loops) so benchmark ratios are honest.
"""

from __future__ import annotations

from dlx.reference.batchnorm import batch_norm_backward, batch_norm_forward
from dlx.reference.dropout import dropout_backward, dropout_forward, dropout_mask
from dlx.reference.linear import gemm, linear_backward, linear_forward
from dlx.reference.pool import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)

__all__ = [
    "avg_pool2d_backward",
    "avg_pool2d_forward",
    "batch_norm_backward",
    "batch_norm_forward",
    "dropout_backward",
    "dropout_forward",
    "dropout_mask",
    "gemm",
    "linear_backward",
    "linear_forward",
    "max_pool2d_backward",
    "max_pool2d_forward",
]
