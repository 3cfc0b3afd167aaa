"""Stateless differentiable ops with PyTorch's names and argument order."""

from __future__ import annotations

from dlx._ops.activation import (
    abs_relu,
    elu,
    gelu,
    hardtanh,
    leaky_relu,
    log_softmax,
    maxout,
    prelu,
    relu,
    sigmoid,
    silu,
    softmax,
    softplus,
    tanh,
)
from dlx._ops.shape import flatten
from dlx.nn.functional._attention import scaled_dot_product_attention
from dlx.nn.functional._conv import conv2d
from dlx.nn.functional._conv_transpose import conv1d, conv_transpose2d
from dlx.nn.functional._dropout import dropout
from dlx.nn.functional._embedding import embedding, one_hot
from dlx.nn.functional._layer_norm import group_norm, layer_norm, rms_norm
from dlx.nn.functional._linear import dense_chain, linear
from dlx.nn.functional._loss import cross_entropy, nll_loss
from dlx.nn.functional._loss_elementwise import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    huber_loss,
    l1_loss,
    mse_loss,
)
from dlx.nn.functional._loss_extra import (
    cosine_embedding_loss,
    gaussian_nll_loss,
    kl_div,
    margin_ranking_loss,
    poisson_nll_loss,
    smooth_l1_loss,
    triplet_margin_loss,
)
from dlx.nn.functional._mdn import gaussian_mixture_nll
from dlx.nn.functional._norm import batch_norm
from dlx.nn.functional._pad import normalize, pad
from dlx.nn.functional._pool import avg_pool2d, max_pool2d
from dlx.nn.functional._resize import (
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    fold,
    interpolate,
    unfold,
)
from dlx.nn.functional._rnn import rnn

__all__ = [
    "abs_relu",
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv1d",
    "conv2d",
    "conv_transpose2d",
    "cosine_embedding_loss",
    "cross_entropy",
    "dense_chain",
    "dropout",
    "elu",
    "embedding",
    "flatten",
    "fold",
    "gaussian_mixture_nll",
    "gaussian_nll_loss",
    "gelu",
    "group_norm",
    "hardtanh",
    "huber_loss",
    "interpolate",
    "kl_div",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "margin_ranking_loss",
    "max_pool2d",
    "maxout",
    "mse_loss",
    "nll_loss",
    "normalize",
    "one_hot",
    "pad",
    "poisson_nll_loss",
    "prelu",
    "relu",
    "rms_norm",
    "rnn",
    "scaled_dot_product_attention",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "softplus",
    "tanh",
    "triplet_margin_loss",
    "unfold",
]
