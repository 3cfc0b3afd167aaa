"""Plain NumPy reference implementations of every dlx kernel.

They are the specification the C++ kernels are tested against and the baseline the
C++ vs NumPy benchmarks time. They favour clarity over speed, but use vectorised NumPy
(no per-element Python loops) so benchmark ratios are honest. Each function has the
same name and arguments as its kernel in ``dlx._core``.
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
from dlx.reference.batchnorm import (
    batch_norm_backward,
    batch_norm_forward,
)
from dlx.reference.conv import (
    col2im,
    conv2d_backward,
    conv2d_forward,
    im2col,
)
from dlx.reference.dropout import (
    dropout_backward,
    dropout_forward,
    dropout_mask,
)
from dlx.reference.linear import (
    gemm,
    linear_backward,
    linear_forward,
)
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
from dlx.reference.optim import (
    adadelta_step_,
    adagrad_step_,
    adam_step_,
    adamax_step_,
    asgd_step_,
    nadam_step_,
    radam_step_,
    rmsprop_step_,
    rprop_step_,
    sgd_step_,
)
from dlx.reference.pool import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)
from dlx.reference.rnn import (
    rnn_backward,
    rnn_forward,
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
    "adadelta_step_",
    "adagrad_step_",
    "adam_step_",
    "adamax_step_",
    "asgd_step_",
    "avg_pool2d_backward",
    "avg_pool2d_forward",
    "batch_norm_backward",
    "batch_norm_forward",
    "bce_with_logits_backward",
    "bce_with_logits_forward",
    "col2im",
    "conv2d_backward",
    "conv2d_forward",
    "cross_entropy_backward",
    "cross_entropy_forward",
    "dropout_backward",
    "dropout_forward",
    "dropout_mask",
    "elu_backward",
    "elu_forward",
    "gelu_backward",
    "gelu_forward",
    "gemm",
    "hardtanh_backward",
    "hardtanh_forward",
    "huber_loss_backward",
    "huber_loss_forward",
    "im2col",
    "l1_loss_backward",
    "l1_loss_forward",
    "leaky_relu_backward",
    "leaky_relu_forward",
    "linear_backward",
    "linear_forward",
    "log_softmax_backward",
    "log_softmax_forward",
    "max_pool2d_backward",
    "max_pool2d_forward",
    "maxout_backward",
    "maxout_forward",
    "mse_loss_backward",
    "mse_loss_forward",
    "nadam_step_",
    "prelu_backward",
    "prelu_forward",
    "radam_step_",
    "relu_backward",
    "relu_forward",
    "rmsprop_step_",
    "rnn_backward",
    "rnn_forward",
    "rprop_step_",
    "sgd_step_",
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
