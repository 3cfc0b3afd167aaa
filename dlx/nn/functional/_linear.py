"""``linear``: ``input @ weight.T + bias`` through the BLAS kernels of ``dlx._core``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlx._autograd import is_grad_enabled, make_tensor
from dlx._native import _core
from dlx._ops._common import is_array
from dlx._ops.activation import relu as _relu
from dlx._ops.elementwise import as_tensor
from dlx._validation import same_float_dtype, shape_str

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
from dlx.autograd.function import Function, c_contiguous
from dlx.tensor import Tensor


class Linear(Function):
    __slots__ = ()
    double_backward = True

    @staticmethod
    def forward(ctx, x, weight, bias):
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[0]:
            ctx.save_for_backward(x, weight)
        b = None if bias is None else c_contiguous(bias)
        if x.ndim == 2:
            return _core.linear_forward(c_contiguous(x), c_contiguous(weight), b)
        x2 = c_contiguous(x.reshape(-1, x.shape[-1]))
        y = _core.linear_forward(x2, c_contiguous(weight), b)
        return y.reshape(*x.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad
        if not is_array(g):  # create_graph: the same products, recorded
            g2 = g.reshape(-1, weight.shape[0])
            x2 = x.reshape(-1, x.shape[-1])
            gx = (g2 @ weight).reshape(x.shape) if nx else None
            gw = g2.transpose(0, 1) @ x2 if nw else None
            gb = g2.sum(0) if nb else None
            return gx, gw, gb
        g2 = c_contiguous(g.reshape(-1, weight.shape[0]))
        x2 = c_contiguous(x.reshape(-1, x.shape[-1]))
        gx, gw, gb = _core.linear_backward(
            g2, x2, c_contiguous(weight), input_grad=nx, weight_grad=nw, bias_grad=nb
        )
        return (None if gx is None else gx.reshape(x.shape)), gw, gb


def linear(input: Any, weight: Any, bias: Any = None) -> Tensor:
    """Apply ``y = input @ weight.T + bias`` (PyTorch's ``F.linear``).

    Parameters
    ----------
    input : Tensor
        Shape ``(*, in_features)``.
    weight : Tensor
        Shape ``(out_features, in_features)``.
    bias : Tensor, optional
        Shape ``(out_features,)``.

    Returns
    -------
    Tensor
        Shape ``(*, out_features)``.
    """
    x, w = as_tensor(input), as_tensor(weight)
    b = None if bias is None else as_tensor(bias)
    # The common case in one test: float tensors of one dtype and matching shapes.
    xd, wd = x._data, w._data
    if (
        wd.ndim == 2
        and xd.ndim >= 1
        and xd.shape[-1] == wd.shape[1]
        and xd.dtype == wd.dtype
        and xd.dtype in _FLOATS
        and (b is None or (b._data.dtype == wd.dtype and b._data.shape == (wd.shape[0],)))
    ):
        return Linear.apply(x, w, b)
    if w.ndim != 2:
        msg = f"linear: `weight` must be 2-D (out_features, in_features), got shape {shape_str(w.shape)}"
        raise ValueError(msg)
    if x.ndim < 1 or x.shape[-1] != w.shape[1]:
        msg = (
            f"linear: `input` of shape {shape_str(x.shape)} must end in in_features={w.shape[1]} "
            f"(`weight` has shape {shape_str(w.shape)})"
        )
        raise ValueError(msg)
    if b is not None and b.shape != (w.shape[0],):
        msg = f"linear: `bias` must have shape ({w.shape[0]},), got {shape_str(b.shape)}"
        raise ValueError(msg)
    same_float_dtype("linear", input=x._data, weight=w._data, bias=None if b is None else b._data)
    return Linear.apply(x, w, b)


def dense_chain(
    input: Any, weights: Sequence[Any], biases: Sequence[Any], relu: Sequence[bool]
) -> Tensor:
    """A run of dense layers, ``x = relu?(linear(x, weights[k], biases[k]))`` for each k.

    When no gradient is recorded (grad mode off, or nothing requires grad) and ``input``
    is a 2-D batch, the whole run is one C++ call (``Sequential`` uses it for runs of
    ``Linear``/``ReLU`` layers at inference); otherwise it is the ordinary ops in turn.
    The results are the same bits either way (the same kernels).
    """
    if not (len(weights) == len(biases) == len(relu)) or not weights:
        msg = (
            f"dense_chain: `weights`, `biases` and `relu` must have one entry per layer (at "
            f"least one), got {len(weights)}, {len(biases)} and {len(relu)}"
        )
        raise ValueError(msg)
    x = as_tensor(input)
    ws = [as_tensor(w) for w in weights]
    bs = [None if b is None else as_tensor(b) for b in biases]
    arrays = _fused_arrays(x, ws, bs)
    if arrays is not None:
        flags = [bool(r) for r in relu]
        return make_tensor(_core.dense_chain_forward(arrays[0], arrays[1], arrays[2], flags))
    for w, b, r in zip(ws, bs, relu, strict=True):
        x = linear(x, w, b)
        if r:
            x = _relu(x)
    return x


def _fused_arrays(x: Any, ws: list[Any], bs: list[Any]) -> tuple[Any, list[Any], list[Any]] | None:
    """The kernel's arrays when the run needs no graph and its shapes and dtypes fit the
    fused kernel, else None."""
    xd = x._data
    if xd.ndim != 2 or xd.dtype not in _FLOATS:
        return None
    grad = is_grad_enabled()
    if grad and x.requires_grad:
        return None
    dt, width = xd.dtype, xd.shape[1]
    wa: list[Any] = []
    ba: list[Any] = []
    for w, b in zip(ws, bs, strict=True):
        wd = w._data
        if wd.ndim != 2 or wd.shape[1] != width or wd.dtype != dt or (grad and w.requires_grad):
            return None
        wa.append(c_contiguous(wd))
        if b is None:
            ba.append(None)
        else:
            bd = b._data
            if bd.shape != (wd.shape[0],) or bd.dtype != dt or (grad and b.requires_grad):
                return None
            ba.append(c_contiguous(bd))
        width = wd.shape[0]
    return c_contiguous(xd), wa, ba
