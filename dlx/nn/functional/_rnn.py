"""Recurrent layers (RNN tanh/relu, LSTM, GRU) over the whole-sequence C++ kernels.

Each layer and direction is one autograd node (:class:`RNNLayer`) whose forward and
backward (full BPTT) are single ``dlx._core`` calls; Python only loops over layers and
directions, concatenates the directions and applies dropout between layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlx._native import _core
from dlx._ops import shape as _shape
from dlx._ops.elementwise import as_tensor
from dlx._validation import same_float_dtype, shape_str
from dlx.autograd.function import Function, c_contiguous
from dlx.nn.functional._dropout import dropout as dropout_fn
from dlx.tensor import Tensor

__all__ = ["RNNLayer", "rnn"]

MODES = ("rnn_tanh", "rnn_relu", "lstm", "gru")
GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


class RNNLayer(Function):
    """One layer, one direction, time-major: ``output`` (T, N, H), and for LSTM also
    ``c_n`` (N, H) as a second output (views of the one array the kernel writes).

    The fused kernels have no differentiable backward: under ``create_graph`` their
    gradients are computed, and differentiating them again raises NotImplementedError.
    """

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh, h0, c0, mode="lstm", reverse=False):
        x, w_ih, w_hh = c_contiguous(x), c_contiguous(w_ih), c_contiguous(w_hh)
        b_ih = None if b_ih is None else c_contiguous(b_ih)
        b_hh = None if b_hh is None else c_contiguous(b_hh)
        h0 = None if h0 is None else c_contiguous(h0)
        c0 = None if c0 is None else c_contiguous(c0)
        lstm = mode == "lstm"
        # LSTM: the kernel writes [output; c_n] into one array (stack_c), no copy to stack.
        out, _, _, ws = _core.rnn_forward(
            mode, x, w_ih, w_hh, b_ih, b_hh, h0, c0, reverse, stack_c=lstm
        )
        steps = x.shape[0]
        y = out[:steps] if lstm else out
        # The output is saved, so an in-place change of it is caught by the version check
        # instead of silently changing the gradient.
        ctx.save_for_backward(x, w_ih, w_hh, h0, c0, y, ws)
        ctx.mode, ctx.reverse, ctx.bias = mode, reverse, b_ih is not None
        return (y, out[steps]) if lstm else y

    @staticmethod
    def backward(ctx, g, gc=None):
        x, w_ih, w_hh, h0, c0, y, ws = ctx.saved_arrays
        if gc is not None:
            gc = c_contiguous(gc)
        gx, gh0, gc0, gw_ih, gw_hh, gb_ih, gb_hh = _core.rnn_backward(
            ctx.mode, c_contiguous(g), None, gc, x, w_ih, w_hh, h0, c0, y, ws,
            bias=ctx.bias, reverse=ctx.reverse,
        )  # fmt: skip
        return gx, gw_ih, gw_hh, gb_ih, gb_hh, gh0, gc0


def _layer(mode, x, weights, h0, c0, reverse):
    """(output (T, N, H), h_n, c_n or None) of one layer and direction."""
    w_ih, w_hh, b_ih, b_hh = weights
    out = RNNLayer.apply(x, w_ih, w_hh, b_ih, b_hh, h0, c0, mode=mode, reverse=reverse)
    last = 0 if reverse else x.shape[0] - 1
    if mode == "lstm":
        y, c_n = out
        return y, y[last], c_n
    return out, out[last], None


def _check_state(name, what, t, expected):
    if t is not None and t.shape != expected:
        msg = f"{name}: `{what}` must have shape {shape_str(expected)}, got {shape_str(t.shape)}"
        raise ValueError(msg)


def rnn(
    mode: str,
    input: Any,
    weights: Sequence[Sequence[Any]],
    hx: Any = None,
    *,
    num_layers: int = 1,
    bidirectional: bool = False,
    batch_first: bool = False,
    dropout: float = 0.0,
    training: bool = False,
    name: str | None = None,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Run a multi-layer (bi)directional RNN, LSTM or GRU (PyTorch semantics).

    Parameters
    ----------
    mode : {"rnn_tanh", "rnn_relu", "lstm", "gru"}
    input : Tensor
        ``(T, N, I)``, ``(N, T, I)`` with ``batch_first``, or unbatched ``(T, I)``.
    weights : sequence of (weight_ih, weight_hh, bias_ih, bias_hh)
        One entry per layer and direction in PyTorch order (``l0``, ``l0_reverse``, ``l1``,
        ...); weight_ih ``(G*H, I_l)``, weight_hh ``(G*H, H)``, biases ``(G*H,)`` or None,
        G = 1 (RNN), 4 (LSTM: i, f, g, o), 3 (GRU: r, z, n).
    hx : Tensor or (Tensor, Tensor) for LSTM, optional
        Initial states ``(L*D, N, H)`` (``(L*D, H)`` when unbatched); None = zeros.
    num_layers, bidirectional, batch_first : layout options as in ``torch.nn.LSTM``.
    dropout : float
        Dropout probability on the outputs of every layer but the last (when training).
    name : str, optional
        Used in error messages (the module's class name).

    Returns
    -------
    (output, h_n, c_n)
        output ``(T, N, D*H)`` (batch-first / unbatched like the input), h_n and c_n
        ``(L*D, N, H)``; c_n is None except for LSTM.
    """
    name = name or mode
    if mode not in MODES:
        msg = f"{name}: `mode` must be one of {MODES}, got {mode!r}"
        raise ValueError(msg)
    x = as_tensor(input)
    dirs = 2 if bidirectional else 1
    if len(weights) != num_layers * dirs:
        msg = f"{name}: expected {num_layers * dirs} weight sets, got {len(weights)}"
        raise ValueError(msg)
    hidden = weights[0][1].shape[1]
    input_size = weights[0][0].shape[1]
    if x.ndim not in (2, 3):
        msg = (
            f"{name}: `input` must be 3-D (T, N, input_size) (or 2-D unbatched), got shape "
            f"{shape_str(x.shape)}"
        )
        raise ValueError(msg)
    if x.shape[-1] != input_size:
        msg = (
            f"{name}: `input` has {x.shape[-1]} features but layer 0 expects "
            f"input_size={input_size} (weight_ih_l0 shape {shape_str(weights[0][0].shape)}, "
            f"input shape {shape_str(x.shape)})"
        )
        raise ValueError(msg)
    arrays: dict[str, np.ndarray | None] = {"input": x._data}
    for k, ws in enumerate(weights):
        for part, w in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), ws, strict=True):
            arrays[f"{part}_{k}"] = None if w is None else as_tensor(w)._data
    same_float_dtype(name, **arrays)
    unbatched = x.ndim == 2
    h0, c0 = (hx if hx is not None else (None, None)) if mode == "lstm" else (hx, None)
    h0 = None if h0 is None else as_tensor(h0)
    c0 = None if c0 is None else as_tensor(c0)
    if unbatched:
        x = _shape.unsqueeze(x, 1)
        h0 = None if h0 is None else _shape.unsqueeze(h0, 1)
        c0 = None if c0 is None else _shape.unsqueeze(c0, 1)
    elif batch_first:
        x = _shape.transpose(x, 0, 1)
    steps, batch = x.shape[0], x.shape[1]
    if steps == 0:
        msg = f"{name}: `input` must have at least one time step, got shape {shape_str(x.shape)}"
        raise ValueError(msg)
    state_shape = (num_layers * dirs, batch, hidden)
    suffix = "[0]" if mode == "lstm" else ""
    _check_state(name, f"hx{suffix}", h0, state_shape)
    _check_state(name, "hx[1]", c0, state_shape)

    h_out, c_out = [], []
    layer_in = x
    for layer in range(num_layers):
        if layer > 0 and dropout > 0.0 and training:
            layer_in = dropout_fn(layer_in, float(dropout), training=True)
        outs = []
        for d in range(dirs):
            k = layer * dirs + d
            w_ih = weights[k][0]
            if w_ih.shape[1] != layer_in.shape[2]:
                msg = (
                    f"{name}: layer {layer} expects {w_ih.shape[1]} input features but gets "
                    f"{layer_in.shape[2]} (weight_ih shape {shape_str(w_ih.shape)})"
                )
                raise ValueError(msg)
            y, h_n, c_n = _layer(
                mode, layer_in, weights[k],
                None if h0 is None else h0[k], None if c0 is None else c0[k], d == 1,
            )  # fmt: skip
            outs.append(y)
            h_out.append(h_n)
            c_out.append(c_n)
        layer_in = outs[0] if dirs == 1 else _shape.cat(outs, dim=2)
    output = layer_in
    h_n = _shape.stack(h_out, dim=0)
    c_n = _shape.stack(c_out, dim=0) if mode == "lstm" else None
    if unbatched:
        output = _shape.squeeze(output, 1)
        h_n = _shape.squeeze(h_n, 1)
        c_n = None if c_n is None else _shape.squeeze(c_n, 1)
    elif batch_first:
        output = _shape.transpose(output, 0, 1)
    return output, h_n, c_n
