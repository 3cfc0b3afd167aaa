"""``linear``: ``input @ weight.T + bias`` through the BLAS kernels of ``dlx._core``."""

from __future__ import annotations

from typing import Any

from dlx._native import _core
from dlx._ops.elementwise import as_tensor
from dlx._validation import same_float_dtype, shape_str
from dlx._ops._common import is_array
from dlx.autograd.function import Function, c_contiguous
from dlx.tensor import Tensor


class Linear(Function):
    double_backward = True

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        x2 = c_contiguous(x.reshape(-1, x.shape[-1]))
        b = None if bias is None else c_contiguous(bias)
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
