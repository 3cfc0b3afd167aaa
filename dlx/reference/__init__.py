"""Plain NumPy reference implementations of every dlx kernel.

They are the specification the C++ kernels are tested against and the baseline the
C++ vs NumPy benchmarks time. They favour clarity over speed, but use vectorised NumPy
(no per-element Python loops) so benchmark ratios are honest.
"""

from __future__ import annotations

from dlx.reference.conv import col2im, conv2d_backward, conv2d_forward, im2col
from dlx.reference.linear import gemm, linear_backward, linear_forward

__all__ = [
    "col2im",
    "conv2d_backward",
    "conv2d_forward",
    "gemm",
    "im2col",
    "linear_backward",
    "linear_forward",
]
