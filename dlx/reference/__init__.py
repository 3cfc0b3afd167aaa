"""Plain NumPy reference implementations of every dlx kernel.

They are the specification the C++ kernels are tested against and the baseline the
C++ vs NumPy benchmarks time. They favour clarity over speed, but use vectorised NumPy
(no per-element Python loops) so benchmark ratios are honest.
"""

from __future__ import annotations

from dlx.reference.linear import gemm, linear_backward, linear_forward
from dlx.reference.optim import (
    adadelta_step_,
    adagrad_step_,
    adam_step_,
    nadam_step_,
    radam_step_,
    rmsprop_step_,
    sgd_step_,
)

__all__ = [
    "adadelta_step_",
    "adagrad_step_",
    "adam_step_",
    "gemm",
    "linear_backward",
    "linear_forward",
    "nadam_step_",
    "radam_step_",
    "rmsprop_step_",
    "sgd_step_",
]
