"""Fast inference path for ``Sequential`` under ``no_grad``: plain arrays, no graph.

With grad mode off no node is recorded anyway, but the regular path still pays, per
layer, for ``Module.__call__``, argument validation, ``Function.apply`` and a Tensor
wrapper (about 10 us per layer; batch-1 latency is mostly that). Here each supported
layer maps an ndarray to an ndarray by calling its kernel directly. A layer returns
None when the input is anything but the plain case (wrong ndim/dtype/shape, strided,
training-mode dropout, hooks...), and ``Sequential`` then finishes on the regular path,
so errors and results are exactly those of the regular path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dlx._native import _core
from dlx.nn.functional._util import spatial_out
from dlx.nn.modules.activation import ReLU
from dlx.nn.modules.conv import Conv2d
from dlx.nn.modules.dropout import Dropout
from dlx.nn.modules.flatten import Flatten
from dlx.nn.modules.linear import Identity, Linear
from dlx.nn.modules.pooling import MaxPool2d

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _pair(v: Any) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _weights(m: Any, a: np.ndarray) -> tuple[np.ndarray, np.ndarray | None] | None:
    """Weight and bias arrays when they are contiguous and of ``a``'s dtype."""
    params = m._parameters
    w, b = params["weight"].data, params["bias"]
    b = None if b is None else b.data
    if w.dtype != a.dtype or not w.flags.c_contiguous:
        return None
    if b is not None and (b.dtype != a.dtype or not b.flags.c_contiguous):
        return None
    return w, b


def _linear(m: Linear, a: np.ndarray) -> np.ndarray | None:
    if a.ndim != 2 or a.shape[1] != m.in_features or not a.flags.c_contiguous:
        return None
    wb = _weights(m, a)
    return None if wb is None else _core.linear_forward(a, wb[0], wb[1])


def _conv2d(m: Conv2d, a: np.ndarray) -> np.ndarray | None:
    if (
        a.ndim != 4
        or a.shape[1] != m.in_channels
        or isinstance(m.padding, str)
        or not a.flags.c_contiguous
    ):
        return None
    wb = _weights(m, a)
    if wb is None:
        return None
    spatial_out("conv2d", a.shape, m.kernel_size, m.stride, m.padding, m.dilation, False)
    return _core.conv2d_forward(a, wb[0], wb[1], m.stride, m.padding, m.dilation, m.groups)


def _max_pool2d(m: MaxPool2d, a: np.ndarray) -> np.ndarray | None:
    if m.return_indices or a.ndim != 4 or a.dtype not in _FLOATS or not a.flags.c_contiguous:
        return None
    k, s = _pair(m.kernel_size), _pair(m.stride)
    p, d = _pair(m.padding), _pair(m.dilation)
    spatial_out("max_pool2d", a.shape, k, s, p, d, m.ceil_mode)
    return _core.max_pool2d_forward(a, k, s, p, d, m.ceil_mode)[0]


def _relu(m: ReLU, a: np.ndarray) -> np.ndarray | None:
    if a.dtype not in _FLOATS or not a.flags.c_contiguous:
        return None
    return _core.relu_forward(a)


def _flatten(m: Flatten, a: np.ndarray) -> np.ndarray | None:
    return a.reshape(m.output_shape(a.shape)) if a.ndim >= 1 else None


def _dropout(m: Dropout, a: np.ndarray) -> np.ndarray | None:
    return None if m.training and m.p > 0 else a


def _identity(m: Identity, a: np.ndarray) -> np.ndarray | None:
    return a


def dense_run(modules: list[Any], i: int, a: np.ndarray) -> tuple[np.ndarray, int] | None:
    """The longest run of ``Linear`` layers from ``modules[i]`` (each optionally followed by
    a ``ReLU``, with eval-mode ``Dropout`` / ``Identity`` in between) in one C++ call.

    Returns the output and the index after the run, or None when the run has fewer than
    two ``Linear`` layers or the input is not the plain case.
    """
    if a.ndim != 2 or a.dtype not in _FLOATS or not a.flags.c_contiguous:
        return None
    weights: list[np.ndarray] = []
    biases: list[np.ndarray | None] = []
    relu: list[bool] = []
    width, j = a.shape[1], i
    for m in modules[i:]:
        if m._forward_pre_hooks or m._forward_hooks:
            break
        kind = type(m)
        if kind is Linear:
            wb = _weights(m, a) if m.in_features == width else None
            if wb is None:
                break
            weights.append(wb[0])
            biases.append(wb[1])
            relu.append(False)
            width = m.out_features
        elif kind is ReLU and not relu[-1]:
            relu[-1] = True
        elif not (kind is Identity or (kind is Dropout and not (m.training and m.p > 0))):
            break
        j += 1
    if len(weights) < 2:
        return None
    return _core.dense_chain_forward(a, weights, biases, relu), j


FAST_INFER: dict[type, Callable[[Any, np.ndarray], np.ndarray | None]] = {
    Conv2d: _conv2d,
    Dropout: _dropout,
    Flatten: _flatten,
    Identity: _identity,
    Linear: _linear,
    MaxPool2d: _max_pool2d,
    ReLU: _relu,
}
