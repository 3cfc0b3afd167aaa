"""NumPy reference for dropout: the same counter-based RNG as the C++ kernel, in uint64.

Element i (flat C order) is kept when ``mix64(key + (i + 1) * GOLDEN) >> 11`` is at least
``ceil(p * 2**53)``, with ``key = mix64(seed)`` and ``mix64`` SplitMix64's output function,
so masks match the kernel's bit for bit.
"""

from __future__ import annotations

import math

import numpy as np

_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_M1, _M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def _mix64_int(z: int) -> int:
    """SplitMix64's output function on a Python int."""
    z = ((z ^ (z >> 30)) * _M1) & _MASK64
    z = ((z ^ (z >> 27)) * _M2) & _MASK64
    return z ^ (z >> 31)


def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's output function on a uint64 array (array products wrap modulo 2**64)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(_M1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(_M2)
    return z ^ (z >> np.uint64(31))


def _scale(p: float) -> float:
    return 1.0 / (1.0 - p) if p < 1.0 else 0.0


def dropout_mask(shape, p, seed):
    """uint8 keep mask (1 = keep): a pure function of (seed, element index)."""
    n = math.prod(shape)
    key = _mix64_int(seed)
    counter = np.arange(1, n + 1, dtype=np.uint64)
    bits = _mix64(counter * np.uint64(_GOLDEN) + np.uint64(key))
    threshold = np.uint64(math.ceil(p * 2.0**53))
    return ((bits >> np.uint64(11)) >= threshold).astype(np.uint8).reshape(shape)


def dropout_forward(x, p, seed):
    """(output, mask) with output = x * mask / (1 - p) (zeros when p == 1)."""
    mask = dropout_mask(x.shape, p, seed)
    scale = np.asarray(_scale(p), dtype=x.dtype)
    return x * np.where(mask != 0, scale, x.dtype.type(0)), mask


def dropout_backward(grad_output, mask, p):
    """grad_output * mask / (1 - p)."""
    scale = np.asarray(_scale(p), dtype=grad_output.dtype)
    return grad_output * np.where(mask != 0, scale, grad_output.dtype.type(0))
