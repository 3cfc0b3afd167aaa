"""Plain NumPy reference implementations of every dlx kernel.

They are the specification the C++ kernels are tested against and the baseline the
C++ vs NumPy benchmarks time. They favour clarity over speed, but use vectorised NumPy
(no per-element Python loops) so benchmark ratios are honest.
"""

from __future__ import annotations

from dlx.reference.activation import (
    abs_relu_backward,
    abs_relu_forward,
    elu_backward,
    elu_forward,
    gelu_backward,
    gelu_forward,
    hardtanh_backward,
    hardtanh_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    maxout_backward,
    maxout_forward,
    prelu_backward,
    prelu_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    silu_backward,
    silu_forward,
    softplus_backward,
    softplus_forward,
    tanh_backward,
    tanh_forward,
)
from dlx.reference.linear import gemm, linear_backward, linear_forward
from dlx.reference.loss import (
    bce_with_logits_backward,
    bce_with_logits_forward,
    cross_entropy_backward,
    cross_entropy_forward,
    huber_loss_backward,
    huber_loss_forward,
    l1_loss_backward,
    l1_loss_forward,
    mse_loss_backward,
    mse_loss_forward,
)
from dlx.reference.softmax import (
    log_softmax_backward,
    log_softmax_forward,
    softmax_backward,
    softmax_forward,
)

__all__ = [
    "abs_relu_backward",
    "abs_relu_forward",
    "bce_with_logits_backward",
    "bce_with_logits_forward",
    "cross_entropy_backward",
    "cross_entropy_forward",
    "elu_backward",
    "elu_forward",
    "gelu_backward",
    "gelu_forward",
    "gemm",
    "hardtanh_backward",
    "hardtanh_forward",
    "huber_loss_backward",
    "huber_loss_forward",
    "l1_loss_backward",
    "l1_loss_forward",
    "leaky_relu_backward",
    "leaky_relu_forward",
    "linear_backward",
    "linear_forward",
    "log_softmax_backward",
    "log_softmax_forward",
    "maxout_backward",
    "maxout_forward",
    "mse_loss_backward",
    "mse_loss_forward",
    "prelu_backward",
    "prelu_forward",
    "relu_backward",
    "relu_forward",
    "sigmoid_backward",
    "sigmoid_forward",
    "silu_backward",
    "silu_forward",
    "softmax_backward",
    "softmax_forward",
    "softplus_backward",
    "softplus_forward",
    "tanh_backward",
    "tanh_forward",
]
