"""Weight initialisers with PyTorch's names and semantics (``torch.nn.init``).

Every function fills its tensor in place (the array behind ``.data`` keeps its identity,
so optimiser views stay valid), bumps its version counter and returns it. Random ones
draw from ``generator`` or, by default, from the generator set by ``dlx.manual_seed``.
They also accept a plain ``numpy.ndarray``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlx._random import resolve_generator
from dlx._validation import shape_str
from dlx.tensor import Tensor

__all__ = [
    "calculate_gain",
    "constant_",
    "kaiming_normal_",
    "kaiming_uniform_",
    "lecun_normal_",
    "lecun_uniform_",
    "normal_",
    "ones_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]

_LINEAR = {
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
}


def _array(tensor: Any) -> np.ndarray:
    if isinstance(tensor, Tensor):
        return tensor.numpy()
    if isinstance(tensor, np.ndarray):
        return tensor
    msg = f"`tensor` must be a dlx.Tensor or numpy.ndarray, got {type(tensor).__name__}"
    raise TypeError(msg)


def _bump(tensor: Any) -> Any:
    if isinstance(tensor, Tensor):
        tensor._bump_version()
    return tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """Recommended gain for a nonlinearity (PyTorch's table).

    linear/conv/sigmoid: 1; tanh: 5/3; relu: sqrt(2); leaky_relu: sqrt(2 / (1 + slope^2))
    with slope ``param`` (default 0.01); selu: 3/4.
    """
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, int | float) and not isinstance(param, bool):
            slope = float(param)
        else:
            msg = f"`param` must be a number (the negative slope), got {param!r}"
            raise ValueError(msg)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    msg = f"`nonlinearity` {nonlinearity!r} is not supported"
    raise ValueError(msg)


def _calculate_fan_in_and_fan_out(tensor: Any) -> tuple[int, int]:
    """(fan_in, fan_out): ``size(1) * receptive`` and ``size(0) * receptive``."""
    shape = _array(tensor).shape
    if len(shape) < 2:
        msg = (
            f"fan in and fan out cannot be computed for a tensor with fewer than 2 dimensions, "
            f"got shape {shape_str(shape)}"
        )
        raise ValueError(msg)
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _calculate_correct_fan(tensor: Any, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        msg = f"`mode` must be 'fan_in' or 'fan_out', got {mode!r}"
        raise ValueError(msg)
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill_uniform(tensor: Any, low: float, high: float, generator: Any) -> Any:
    a = _array(tensor)
    rng = resolve_generator(generator)
    if a.dtype in (np.float32, np.float64) and a.flags.c_contiguous and a.flags.writeable:
        rng.random(out=a, dtype=a.dtype)  # in place, no temporary
        a *= high - low
        a += low
    else:
        np.copyto(a, rng.uniform(low, high, a.shape), casting="unsafe")
    return _bump(tensor)


def _fill_normal(tensor: Any, mean: float, std: float, generator: Any) -> Any:
    a = _array(tensor)
    rng = resolve_generator(generator)
    if a.dtype in (np.float32, np.float64) and a.flags.c_contiguous and a.flags.writeable:
        rng.standard_normal(out=a, dtype=a.dtype)
        a *= std
        a += mean
    else:
        np.copyto(a, rng.normal(mean, std, a.shape), casting="unsafe")
    return _bump(tensor)


def uniform_(tensor: Any, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Any:
    """Fill with U(a, b)."""
    if not a <= b:
        msg = f"`a` must not exceed `b`, got a={a}, b={b}"
        raise ValueError(msg)
    return _fill_uniform(tensor, a, b, generator)


def normal_(tensor: Any, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Any:
    """Fill with N(mean, std^2)."""
    if not std >= 0:
        msg = f"`std` must be non-negative, got {std}"
        raise ValueError(msg)
    return _fill_normal(tensor, mean, std, generator)


def constant_(tensor: Any, val: float) -> Any:
    """Fill with ``val`` (e.g. 0.1 for ReLU biases)."""
    _array(tensor).fill(val)
    return _bump(tensor)


def zeros_(tensor: Any) -> Any:
    """Fill with 0."""
    return constant_(tensor, 0)


def ones_(tensor: Any) -> Any:
    """Fill with 1."""
    return constant_(tensor, 1)


def xavier_uniform_(tensor: Any, gain: float = 1.0, generator: Any = None) -> Any:
    """Glorot uniform: U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out)) if fan_in + fan_out else 0.0
    bound = math.sqrt(3.0) * std
    return _fill_uniform(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Any, gain: float = 1.0, generator: Any = None) -> Any:
    """Glorot normal: N(0, std^2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out)) if fan_in + fan_out else 0.0
    return _fill_normal(tensor, 0.0, std, generator)


def _kaiming_std(tensor: Any, a: float, mode: str, nonlinearity: str) -> float | None:
    if _array(tensor).size == 0:
        return None  # nothing to fill (PyTorch: a no-op)
    fan = _calculate_correct_fan(tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(
    tensor: Any,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Any = None,
) -> Any:
    """He uniform: U(-b, b) with ``b = gain * sqrt(3 / fan)``, gain from ``nonlinearity``
    (and the negative slope ``a`` for leaky_relu), ``fan`` chosen by ``mode``."""
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return _fill_uniform(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Any,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Any = None,
) -> Any:
    """He normal: N(0, std^2) with ``std = gain / sqrt(fan)``."""
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    return _fill_normal(tensor, 0.0, std, generator)


def lecun_uniform_(tensor: Any, generator: Any = None) -> Any:
    """LeCun uniform: U(-b, b) with ``b = sqrt(3 / fan_in)`` (variance 1 / fan_in)."""
    return kaiming_uniform_(tensor, mode="fan_in", nonlinearity="linear", generator=generator)


def lecun_normal_(tensor: Any, generator: Any = None) -> Any:
    """LeCun normal: N(0, 1 / fan_in) (untruncated, unlike Keras' truncated variant)."""
    return kaiming_normal_(tensor, mode="fan_in", nonlinearity="linear", generator=generator)
