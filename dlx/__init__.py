"""dlx: a small, fast deep-learning library with C++ kernels over NumPy arrays."""

from __future__ import annotations

from typing import Any as _Any

import numpy as _np

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
    rand,
    randn,
    tensor,
    zeros,
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
from dlx._ops.creation import (
    as_tensor,
    empty_like,
    eye,
    full_like,
    is_floating_point,
    is_tensor,
    linspace,
    logspace,
    numel,
    ones_like,
    zeros_like,
)
from dlx._ops.cumulative import cumprod, cumsum, logsumexp, prod
from dlx._ops.einsum import einsum
from dlx._ops.elementwise import add, div, maximum, minimum, mul, pow, sub, where
from dlx._ops.indexing import (
    argwhere,
    gather,
    index_select,
    masked_fill,
    masked_select,
    nonzero,
    scatter,
    scatter_add,
    take,
    take_along_dim,
)
from dlx._ops.inplace import index_put
from dlx._ops.layout import (
    diag,
    diag_embed,
    diagonal,
    flip,
    fliplr,
    flipud,
    repeat_interleave,
    roll,
    tile,
    trace,
    tril,
    triu,
)
from dlx._ops.linalg import addmm, bmm, dot, ger, matmul, mm, mv, outer
from dlx._ops.math import (
    acos,
    asin,
    atan,
    ceil,
    cos,
    cosh,
    exp2,
    expm1,
    fix,
    floor,
    frac,
    log1p,
    log2,
    log10,
    reciprocal,
    rsqrt,
    sign,
    sin,
    sinh,
    square,
    tan,
    trunc,
)
from dlx._ops.math import (
    round as round,
)
from dlx._ops.norms import norm
from dlx._ops.pointwise import (
    addcdiv,
    addcmul,
    allclose,
    atan2,
    bitwise_and,
    bitwise_not,
    bitwise_or,
    bitwise_xor,
    clamp_max,
    clamp_min,
    eq,
    equal,
    floor_divide,
    fmod,
    ge,
    gt,
    isclose,
    isfinite,
    isinf,
    isnan,
    isneginf,
    isposinf,
    le,
    lerp,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    nan_to_num,
    ne,
    remainder,
)
from dlx._ops.random import (
    bernoulli,
    multinomial,
    normal,
    rand_like,
    randint,
    randint_like,
    randn_like,
    randperm,
)
from dlx._ops.reduce import all as all
from dlx._ops.reduce import amax, amin, argmax, argmin, mean, std, sum, var
from dlx._ops.reduce import any as any
from dlx._ops.shape import (
    broadcast_to,
    cat,
    expand,
    flatten,
    permute,
    reshape,
    squeeze,
    stack,
    transpose,
    unsqueeze,
)
from dlx._ops.sorting import argsort, kthvalue, max, median, min, return_types, sort, topk
from dlx._ops.unary import abs, clamp, clip, clone, exp, log, neg, sqrt
from dlx._ops.views import (
    chunk,
    movedim,
    narrow,
    reshape_as,
    select,
    split,
    swapaxes,
    t,
    unbind,
    unflatten,
    view_as,
)
from dlx._random import Generator, get_rng_state, manual_seed, set_rng_state
from dlx._threads import blas_info, get_num_threads, set_gemm_backend, set_num_threads
from dlx.autograd import GradcheckError, gradcheck, gradgradcheck
from dlx.tensor import Tensor  # registers the tensor class with the compiled core

concatenate = cat  # NumPy spelling
concat = cat
absolute = abs
negative = neg
subtract = sub
multiply = mul
divide = div
true_divide = div
arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
sgn = sign
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne
moveaxis = movedim
swapdims = swapaxes

# dtype names (PyTorch's spellings; dlx dtypes are NumPy dtypes)
dtype = _np.dtype
float = float32
double = float64
half = float16
int = int32
long = int64
int16 = short = _np.dtype(_np.int16)
int8 = _np.dtype(_np.int8)
bool = bool_
Size = tuple  # tensor shapes are tuples


def get_default_dtype() -> dtype:
    """The dtype of tensors made from Python floats: float32."""
    from dlx import _dtype

    return _dtype.default_float


__version__ = "0.1.0"

# Model files live in dlx.io.model; imported on first use so `import dlx` stays cheap.
_LAZY = {
    "save": "dlx.io.model",
    "load": "dlx.io.model",
    "load_state_dict_file": "dlx.io.model",
    "load_torch": "dlx.io.pytorch",
}
# Sub-packages reachable as attributes (dlx.optim.Adam) without importing them up front.
_SUBMODULES = ("backends", "cuda", "data", "io", "linalg", "optim", "reference", "train", "utils")


def __getattr__(name: str) -> _Any:
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"dlx.{name}")
    msg = f"module 'dlx' has no attribute {name!r}"
    raise AttributeError(msg)


# Names that would shadow Python builtins in `from dlx import *` are attributes only
# (dlx.bool, dlx.int, dlx.float, dlx.round, dlx.all, dlx.any); abs/max/min/pow/sum stay.
__all__ = [
    "Generator",
    "GradcheckError",
    "Size",
    "Tensor",
    "abs",
    "absolute",
    "acos",
    "add",
    "addcdiv",
    "addcmul",
    "addmm",
    "allclose",
    "amax",
    "amin",
    "arange",
    "arccos",
    "arcsin",
    "arctan",
    "arctan2",
    "argmax",
    "argmin",
    "argsort",
    "argwhere",
    "as_tensor",
    "asin",
    "atan",
    "atan2",
    "autograd",
    "bernoulli",
    "bitwise_and",
    "bitwise_not",
    "bitwise_or",
    "bitwise_xor",
    "blas_info",
    "bmm",
    "bool_",
    "broadcast_to",
    "cat",
    "ceil",
    "chunk",
    "clamp",
    "clamp_max",
    "clamp_min",
    "clip",
    "clone",
    "concat",
    "concatenate",
    "cos",
    "cosh",
    "cpu_info",
    "cumprod",
    "cumsum",
    "device",
    "diag",
    "diag_embed",
    "diagonal",
    "div",
    "divide",
    "dot",
    "double",
    "dtype",
    "einsum",
    "empty",
    "empty_like",
    "enable_grad",
    "eq",
    "equal",
    "exp",
    "exp2",
    "expand",
    "expm1",
    "eye",
    "fix",
    "flatten",
    "flip",
    "fliplr",
    "flipud",
    "float16",
    "float32",
    "float64",
    "floor",
    "floor_divide",
    "fmod",
    "frac",
    "from_numpy",
    "full",
    "full_like",
    "gather",
    "ge",
    "ger",
    "get_default_dtype",
    "get_num_threads",
    "get_rng_state",
    "gradcheck",
    "gradgradcheck",
    "greater",
    "greater_equal",
    "gt",
    "half",
    "index_put",
    "index_select",
    "inference_mode",
    "int8",
    "int16",
    "int32",
    "int64",
    "is_floating_point",
    "is_grad_enabled",
    "is_tensor",
    "isclose",
    "isfinite",
    "isinf",
    "isnan",
    "isneginf",
    "isposinf",
    "kthvalue",
    "le",
    "lerp",
    "less",
    "less_equal",
    "linspace",
    "load",
    "load_state_dict_file",
    "load_torch",
    "log",
    "log1p",
    "log2",
    "log10",
    "log_softmax",
    "logical_and",
    "logical_not",
    "logical_or",
    "logical_xor",
    "logspace",
    "logsumexp",
    "long",
    "lt",
    "manual_seed",
    "masked_fill",
    "masked_select",
    "matmul",
    "max",
    "maximum",
    "mean",
    "median",
    "min",
    "minimum",
    "mm",
    "moveaxis",
    "movedim",
    "mul",
    "multinomial",
    "multiply",
    "mv",
    "nan_to_num",
    "narrow",
    "ne",
    "neg",
    "negative",
    "nn",
    "no_grad",
    "nonzero",
    "norm",
    "normal",
    "not_equal",
    "numel",
    "ones",
    "ones_like",
    "outer",
    "permute",
    "pow",
    "prod",
    "rand",
    "rand_like",
    "randint",
    "randint_like",
    "randn",
    "randn_like",
    "randperm",
    "reciprocal",
    "relu",
    "remainder",
    "repeat_interleave",
    "reshape",
    "reshape_as",
    "return_types",
    "roll",
    "rsqrt",
    "save",
    "scatter",
    "scatter_add",
    "select",
    "set_gemm_backend",
    "set_grad_enabled",
    "set_num_threads",
    "set_rng_state",
    "sgn",
    "short",
    "sigmoid",
    "sign",
    "sin",
    "sinh",
    "softmax",
    "sort",
    "split",
    "sqrt",
    "square",
    "squeeze",
    "stack",
    "std",
    "sub",
    "subtract",
    "sum",
    "swapaxes",
    "swapdims",
    "t",
    "take",
    "take_along_dim",
    "tan",
    "tanh",
    "tensor",
    "tile",
    "topk",
    "trace",
    "transpose",
    "tril",
    "triu",
    "true_divide",
    "trunc",
    "uint8",
    "unbind",
    "unflatten",
    "unsqueeze",
    "var",
    "view_as",
    "where",
    "zeros",
    "zeros_like",
]
