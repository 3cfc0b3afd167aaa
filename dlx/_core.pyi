# Signatures of the compiled module dlx._core (private: use the dlx package).
#
# Conventions for every function here:
# - Array arguments are numpy.ndarray, C-contiguous, float32 or float64 (all float
#   arguments of one call share a dtype), int64 for labels and indices, uint8 for masks.
#   Nothing is converted: a wrong type raises TypeError, a wrong shape ValueError, and the
#   message names the function and the argument.
# - Pairs (kernel_size, stride, padding, dilation) are an int or a 2-tuple of ints.
# - reduction is "mean", "sum" or "none"; "mean"/"sum" give 0-d arrays.
# - Functions ending in "_" update their first array argument(s) in place.
# - The GIL is released while a kernel runs.

from typing import Any, Literal, TypeAlias

import numpy as np

Array = np.ndarray
Pair: TypeAlias = int | tuple[int, int]
Reduction: TypeAlias = Literal["mean", "sum", "none"]

# threads
def get_num_threads() -> int: ...
def set_num_threads(n: int) -> None: ...
def blas_num_threads() -> int: ...
def blas_config() -> str: ...
def gemm_backend() -> str: ...
def set_gemm_backend(name: str) -> None: ...

# True when importing _core tuned glibc malloc for repeated large allocations (csrc/alloc.h;
# DLX_MALLOC_TUNING=0 or any MALLOC_*_ variable of glibc turns it off).
allocator_tuned: bool

def _after_fork_child() -> None: ...

# CPU dispatch (csrc/cpu.cpp, csrc/dispatch.h): the level is chosen once at import.
def _cpu_info() -> dict[str, Any]: ...
def _select_cpu_capability(name: str | None) -> str: ...
def _fma_peak_gflops(threads: int = 1, seconds: float = 0.2) -> float: ...

# GEMM and dense layers: x (N, in), weight (out, in), bias (out,)
def gemm(
    a: Array,
    b: Array,
    out: Array | None = None,
    trans_a: bool = False,
    trans_b: bool = False,
    alpha: float = 1.0,
    beta: float = 0.0,
) -> Array: ...
def linear_forward(input: Array, weight: Array, bias: Array | None = None) -> Array: ...
def dense_chain_forward(
    input: Array, weights: list[Array], biases: list[Array | None], relu: list[bool]
) -> Array: ...
def linear_backward(
    grad_output: Array,
    input: Array,
    weight: Array,
    input_grad: bool = True,
    weight_grad: bool = True,
    bias_grad: bool = True,
) -> tuple[Array | None, Array | None, Array | None]: ...

# convolution: input (N, C, H, W), weight (O, C // groups, kh, kw), bias (O,)
def im2col(
    input: Array, kernel_size: Pair, stride: Pair = 1, padding: Pair = 0, dilation: Pair = 1
) -> Array: ...  # (N, C*kh*kw, H_out*W_out)
def col2im(
    cols: Array,
    input_shape: tuple[int, int, int, int],
    kernel_size: Pair,
    stride: Pair = 1,
    padding: Pair = 0,
    dilation: Pair = 1,
) -> Array: ...
def conv2d_forward(
    input: Array,
    weight: Array,
    bias: Array | None = None,
    stride: Pair = 1,
    padding: Pair = 0,
    dilation: Pair = 1,
    groups: int = 1,
) -> Array: ...
def _conv2d_algo(name: str | None = None) -> str: ...
def _conv2d_choice(
    input: Array,
    weight: Array,
    stride: Pair = 1,
    padding: Pair = 0,
    dilation: Pair = 1,
    groups: int = 1,
) -> str: ...
def conv2d_backward(
    grad_output: Array,
    input: Array,
    weight: Array,
    stride: Pair = 1,
    padding: Pair = 0,
    dilation: Pair = 1,
    groups: int = 1,
    input_grad: bool = True,
    weight_grad: bool = True,
    bias_grad: bool = True,
) -> tuple[Array | None, Array | None, Array | None]: ...

# pooling: input (N, C, H, W); indices are int64 flat offsets h * W + w within each plane
# (first maximum in row-major window order wins, the last NaN wins; -1 for a window with no
# tap inside the input, which backward skips). stride None = kernel_size; padding <= k // 2.
def max_pool2d_forward(
    input: Array,
    kernel_size: Pair,
    stride: Pair | None = None,
    padding: Pair = 0,
    dilation: Pair = 1,
    ceil_mode: bool = False,
) -> tuple[Array, Array]: ...  # (output, indices)
def max_pool2d_backward(
    grad_output: Array, indices: Array, input_shape: tuple[int, int, int, int]
) -> Array: ...
def avg_pool2d_forward(
    input: Array,
    kernel_size: Pair,
    stride: Pair | None = None,
    padding: Pair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Array: ...
def avg_pool2d_backward(
    grad_output: Array,
    input_shape: tuple[int, int, int, int],
    kernel_size: Pair,
    stride: Pair | None = None,
    padding: Pair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Array: ...

# activations: any shape; backward takes the forward input, except sigmoid/tanh (output)
def relu_forward(input: Array) -> Array: ...
def relu_backward(grad_output: Array, input: Array) -> Array: ...
def leaky_relu_forward(input: Array, negative_slope: float = 0.01) -> Array: ...
def leaky_relu_backward(
    grad_output: Array, input: Array, negative_slope: float = 0.01
) -> Array: ...
def abs_relu_forward(input: Array) -> Array: ...  # |x|, absolute-value rectification
def abs_relu_backward(grad_output: Array, input: Array) -> Array: ...
def elu_forward(input: Array, alpha: float = 1.0) -> Array: ...
def elu_backward(grad_output: Array, input: Array, alpha: float = 1.0) -> Array: ...
def sigmoid_forward(input: Array) -> Array: ...
def sigmoid_backward(grad_output: Array, output: Array) -> Array: ...
def tanh_forward(input: Array) -> Array: ...
def tanh_backward(grad_output: Array, output: Array) -> Array: ...
def softplus_forward(input: Array, beta: float = 1.0, threshold: float = 20.0) -> Array: ...
def softplus_backward(
    grad_output: Array, input: Array, beta: float = 1.0, threshold: float = 20.0
) -> Array: ...
def hardtanh_forward(input: Array, min_val: float = -1.0, max_val: float = 1.0) -> Array: ...
def hardtanh_backward(
    grad_output: Array, input: Array, min_val: float = -1.0, max_val: float = 1.0
) -> Array: ...
def gelu_forward(input: Array, approximate: Literal["none", "tanh"] = "none") -> Array: ...
def gelu_backward(
    grad_output: Array, input: Array, approximate: Literal["none", "tanh"] = "none"
) -> Array: ...
def silu_forward(input: Array) -> Array: ...
def silu_backward(grad_output: Array, input: Array) -> Array: ...

# PReLU: weight (C,) for channel axis 1, or (1,) shared
def prelu_forward(input: Array, weight: Array) -> Array: ...
def prelu_backward(grad_output: Array, input: Array, weight: Array) -> tuple[Array, Array]: ...

# Maxout: input (N, C * pieces, *rest) -> output (N, C, *rest); unit c takes the max of
# input channels c*pieces .. c*pieces+pieces-1; indices (int64) = winning piece 0..pieces-1
def maxout_forward(input: Array, pieces: int) -> tuple[Array, Array]: ...
def maxout_backward(grad_output: Array, indices: Array, pieces: int) -> Array: ...

# softmax family and losses
def softmax_forward(input: Array, axis: int = -1) -> Array: ...
def softmax_backward(grad_output: Array, output: Array, axis: int = -1) -> Array: ...
def log_softmax_forward(input: Array, axis: int = -1) -> Array: ...
def log_softmax_backward(grad_output: Array, output: Array, axis: int = -1) -> Array: ...

# logits (N, C); target int64 (N,) class indices, or float (N, C) probabilities;
# weight (C,) optional class weights. Returns (loss, log_probs).
def cross_entropy_forward(
    logits: Array,
    target: Array,
    weight: Array | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: Reduction = "mean",
) -> tuple[Array, Array]: ...
def cross_entropy_backward(
    grad_loss: Array,
    log_probs: Array,
    target: Array,
    weight: Array | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: Reduction = "mean",
) -> Array: ...
def bce_with_logits_forward(
    logits: Array, target: Array, pos_weight: Array | None = None, reduction: Reduction = "mean"
) -> Array: ...
def bce_with_logits_backward(
    grad_loss: Array,
    logits: Array,
    target: Array,
    pos_weight: Array | None = None,
    reduction: Reduction = "mean",
) -> Array: ...
def mse_loss_forward(input: Array, target: Array, reduction: Reduction = "mean") -> Array: ...
def mse_loss_backward(
    grad_loss: Array, input: Array, target: Array, reduction: Reduction = "mean"
) -> Array: ...
def l1_loss_forward(input: Array, target: Array, reduction: Reduction = "mean") -> Array: ...
def l1_loss_backward(
    grad_loss: Array, input: Array, target: Array, reduction: Reduction = "mean"
) -> Array: ...
def huber_loss_forward(
    input: Array, target: Array, delta: float = 1.0, reduction: Reduction = "mean"
) -> Array: ...
def huber_loss_backward(
    grad_loss: Array, input: Array, target: Array, delta: float = 1.0, reduction: Reduction = "mean"
) -> Array: ...

# batch norm: input (N, C) or (N, C, *spatial); weight/bias (C,) or None (affine=False);
# running_mean/running_var (C,) updated in place in training mode (or None; required in
# eval mode, as in F.batch_norm). In eval mode save_mean = running_mean and
# save_invstd = 1 / sqrt(running_var + eps). grad_bias is always returned.
def batch_norm_forward(
    input: Array,
    weight: Array | None,
    bias: Array | None,
    running_mean: Array | None,
    running_var: Array | None,
    training: bool,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> tuple[Array, Array, Array]: ...  # (output, save_mean, save_invstd)
def batch_norm_backward(
    grad_output: Array,
    input: Array,
    weight: Array | None,
    save_mean: Array,
    save_invstd: Array,
    training: bool,
) -> tuple[Array, Array | None, Array | None]: ...

# dropout: a counter-based RNG keyed by (seed, element index): same mask for any thread count
# (SplitMix64, see csrc/dropout.h); p in [0, 1] (p = 1 drops everything); seed in [0, 2**64)
def dropout_mask(shape: tuple[int, ...], p: float, seed: int) -> Array: ...  # uint8, 1 = keep
def dropout_forward(input: Array, p: float, seed: int) -> tuple[Array, Array]: ...  # (output, mask)
def dropout_backward(grad_output: Array, mask: Array, p: float) -> Array: ...

# recurrent: one layer and one direction over a whole time-major sequence (csrc/rnn.h).
# mode: "rnn_tanh", "rnn_relu", "lstm" (gates i, f, g, o) or "gru" (gates r, z, n; PyTorch's
# n = tanh(W_in x + b_in + r * (W_hn h + b_hn))). input (T, N, I) with T >= 1,
# weight_ih (G*H, I), weight_hh (G*H, H), bias_ih / bias_hh (G*H,) both or neither,
# hx / cx (N, H) (None = zeros; cx only for "lstm"), G = 1 / 4 / 3. reverse: steps run
# t = T-1 .. 0 (output[t] is still the state after x[t]; h_n is the last state computed).
# workspace (T, N, 0 | 5H | 4H) is opaque: pass forward's to backward unchanged.
# stack_c ("lstm" only): output is (T + 1, N, H) with c_n as its last entry; c_n is None.
def rnn_forward(
    mode: str,
    input: Array,
    weight_ih: Array,
    weight_hh: Array,
    bias_ih: Array | None = None,
    bias_hh: Array | None = None,
    hx: Array | None = None,
    cx: Array | None = None,
    reverse: bool = False,
    stack_c: bool = False,
) -> tuple[Array, Array, Array | None, Array]: ...

# (output, h_n, c_n or None, workspace)
def rnn_backward(
    mode: str,
    grad_output: Array,
    grad_h_n: Array | None,
    grad_c_n: Array | None,
    input: Array,
    weight_ih: Array,
    weight_hh: Array,
    hx: Array | None,
    cx: Array | None,
    output: Array,
    workspace: Array,
    bias: bool = True,
    reverse: bool = False,
) -> tuple[Array, Array, Array | None, Array, Array, Array | None, Array | None]: ...

# (grad_input, grad_hx, grad_cx or None, grad_weight_ih, grad_weight_hh, grad_bias_ih,
#  grad_bias_hh); the bias grads are None when bias=False

# optimisers: fused in-place steps (torch.optim single-tensor semantics), one OpenMP pass.
# param, grad and every state array share one dtype and param's shape; param and the
# state arrays are updated in place (so they must be writeable; nothing is converted),
# grad is only read. `step` counts from 1 and includes this step. An optional state
# array switches its option on: momentum_buffer (SGD momentum != 0, RMSprop momentum > 0),
# grad_avg (centered RMSprop), max_exp_avg_sq (AMSGrad).
def sgd_step_(
    param: Array,
    grad: Array,
    momentum_buffer: Array | None = None,
    lr: float = 1e-3,
    momentum: float = 0.0,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
    first_step: bool = False,
) -> None: ...  # first_step: buffer = grad

# ASGD: `eta` and `mu` are this step's (PyTorch keeps them as per-parameter state); ax is
# the running average of the parameter (a copy of it while mu == 1).
def asgd_step_(
    param: Array,
    grad: Array,
    ax: Array,
    eta: float,
    mu: float = 1.0,
    lambd: float = 1e-4,
    weight_decay: float = 0.0,
) -> None: ...
def rprop_step_(
    param: Array,
    grad: Array,
    prev: Array,
    step_size: Array,
    etaminus: float = 0.5,
    etaplus: float = 1.2,
    step_size_min: float = 1e-6,
    step_size_max: float = 50.0,
) -> None: ...
def adagrad_step_(
    param: Array,
    grad: Array,
    state_sum: Array,
    step: int,
    lr: float = 1e-2,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    eps: float = 1e-10,
) -> None: ...
def rmsprop_step_(
    param: Array,
    grad: Array,
    square_avg: Array,
    momentum_buffer: Array | None = None,
    grad_avg: Array | None = None,
    lr: float = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
) -> None: ...
def adadelta_step_(
    param: Array,
    grad: Array,
    square_avg: Array,
    acc_delta: Array,
    lr: float = 1.0,
    rho: float = 0.9,
    eps: float = 1e-6,
    weight_decay: float = 0.0,
) -> None: ...
def adam_step_(
    param: Array,
    grad: Array,
    exp_avg: Array,
    exp_avg_sq: Array,
    step: int,
    max_exp_avg_sq: Array | None = None,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
) -> None: ...  # decoupled: AdamW
def adamax_step_(
    param: Array,
    grad: Array,
    exp_avg: Array,
    exp_inf: Array,
    step: int,
    lr: float = 2e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> None: ...
def radam_step_(
    param: Array,
    grad: Array,
    exp_avg: Array,
    exp_avg_sq: Array,
    step: int,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled_weight_decay: bool = False,
) -> None: ...

# mu_product: prod of mu_1 .. mu_step (this step included), mu_t = beta1 (1 - 0.5 * 0.96^(t md))
def nadam_step_(
    param: Array,
    grad: Array,
    exp_avg: Array,
    exp_avg_sq: Array,
    step: int,
    mu_product: float,
    lr: float = 2e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum_decay: float = 4e-3,
    decoupled_weight_decay: bool = False,
) -> None: ...

# attention: query (B, L, E), key (B, S, E), value (B, S, Ev); mask additive (1 or B, L, S)
def attention_forward(
    query: Array,
    key: Array,
    value: Array,
    mask: Array | None = None,
    causal: bool = False,
    scale: float = 1.0,
) -> tuple[Array, Array]: ...  # (output (B, L, Ev), probs (B, L, S))
def attention_backward(
    grad_output: Array, query: Array, key: Array, value: Array, probs: Array, scale: float = 1.0
) -> tuple[Array, Array, Array]: ...
