"""dlx: a small, fast deep-learning library with C++ kernels over NumPy arrays."""

from __future__ import annotations

from typing import Any as _Any

# First: the compiled extensions (a clear ImportError if the source tree shadows them).
from dlx import (
    _native,  # noqa: F401
    autograd,
    nn,
)
from dlx._device import device
from dlx._dtype import bool_, float16, float32, float64, int32, int64, uint8
from dlx._factory import (
    arange,
    empty,
    from_numpy,
    full,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from dlx._grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from dlx._isa import cpu_info
from dlx._ops.activation import log_softmax, relu, sigmoid, softmax, tanh
from dlx._ops.elementwise import add, div, maximum, minimum, mul, pow, sub, where
from dlx._ops.linalg import matmul
from dlx._ops.reduce import amax, amin, argmax, argmin, mean, std, sum, var
from dlx._ops.shape import (
    broadcast_to,
    cat,
    flatten,
    permute,
    reshape,
    squeeze,
    stack,
    transpose,
    unsqueeze,
)
from dlx._ops.unary import abs, clamp, clip, clone, exp, log, neg, sqrt
from dlx._random import manual_seed
from dlx._threads import blas_info, get_num_threads, set_gemm_backend, set_num_threads
from dlx.autograd import GradcheckError, gradcheck, gradgradcheck
from dlx.tensor import Tensor  # registers the tensor class with the compiled core

concatenate = cat  # NumPy spelling
max = amax
min = amin

__version__ = "0.1.0"

# Model files live in dlx.io.model; imported on first use so `import dlx` stays cheap.
_LAZY = {"save": "dlx.io.model", "load": "dlx.io.model", "load_state_dict_file": "dlx.io.model"}
# Sub-packages reachable as attributes (dlx.optim.Adam) without importing them up front.
_SUBMODULES = ("data", "io", "optim", "reference", "train")


def __getattr__(name: str) -> _Any:
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"dlx.{name}")
    msg = f"module 'dlx' has no attribute {name!r}"
    raise AttributeError(msg)


__all__ = [
    "GradcheckError",
    "Tensor",
    "__version__",
    "abs",
    "add",
    "amax",
    "amin",
    "arange",
    "argmax",
    "argmin",
    "autograd",
    "blas_info",
    "bool_",
    "broadcast_to",
    "cat",
    "clamp",
    "clip",
    "clone",
    "concatenate",
    "cpu_info",
    "device",
    "div",
    "empty",
    "enable_grad",
    "exp",
    "flatten",
    "float16",
    "float32",
    "float64",
    "from_numpy",
    "full",
    "get_num_threads",
    "gradcheck",
    "gradgradcheck",
    "inference_mode",
    "int32",
    "int64",
    "is_grad_enabled",
    "load",
    "load_state_dict_file",
    "log",
    "log_softmax",
    "manual_seed",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "mul",
    "neg",
    "nn",
    "no_grad",
    "ones",
    "ones_like",
    "permute",
    "pow",
    "rand",
    "randn",
    "relu",
    "reshape",
    "save",
    "set_gemm_backend",
    "set_grad_enabled",
    "set_num_threads",
    "sigmoid",
    "softmax",
    "sqrt",
    "squeeze",
    "stack",
    "std",
    "sub",
    "sum",
    "tanh",
    "tensor",
    "transpose",
    "uint8",
    "unsqueeze",
    "var",
    "where",
    "zeros",
    "zeros_like",
]
