"""Single-step recurrent cells ``RNNCell``, ``LSTMCell`` and ``GRUCell`` (PyTorch API).

One call advances the state by one time step, for loops that feed each step's output back
(decoders, teacher forcing, custom unrolling). The step runs the same C++ kernel as the
sequence layers with one time step, so the maths, the gate layout and the gradients are
those of :class:`~dlx.nn.LSTM` and friends.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np

from dlx._ops import shape as _shape
from dlx._ops.elementwise import as_tensor
from dlx._validation import same_float_dtype, shape_str
from dlx.nn import init
from dlx.nn.functional._rnn import GATES, _layer
from dlx.nn.modules._layer_utils import float_dtype, recurrent_sizes
from dlx.nn.modules.module import Module
from dlx.nn.parameter import Parameter
from dlx.tensor import Tensor

__all__ = ["GRUCell", "LSTMCell", "RNNCell", "RNNCellBase"]


class RNNCellBase(Module):
    """Parameters and one step of :class:`RNNCell`, :class:`LSTMCell`, :class:`GRUCell`.

    ``weight_ih`` ``(G*H, input_size)``, ``weight_hh`` ``(G*H, H)``, ``bias_ih`` and
    ``bias_hh`` ``(G*H,)`` (None without bias), G = 1, 4 (i, f, g, o) or 3 (r, z, n), all
    drawn from U(-1/sqrt(H), 1/sqrt(H)) as in PyTorch.
    """

    mode: str
    input_size: int
    hidden_size: int
    bias: bool

    def __init__(
        self, mode: str, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = None
    ) -> None:
        super().__init__()
        cls = type(self).__name__
        self.mode = mode
        self.input_size, self.hidden_size = recurrent_sizes(cls, input_size, hidden_size)
        self.bias = bool(bias)
        dt = float_dtype(dtype)
        gh = GATES[mode] * self.hidden_size
        self.weight_ih = Parameter(np.empty((gh, self.input_size), dt))
        self.weight_hh = Parameter(np.empty((gh, self.hidden_size), dt))
        if self.bias:
            self.bias_ih = Parameter(np.empty((gh,), dt))
            self.bias_hh = Parameter(np.empty((gh,), dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _step(self, input: Any, hx: Any, cx: Any) -> tuple[Tensor, Tensor | None]:
        """(h', c' or None) after one step; 1-D input and states are one unbatched sample."""
        name = type(self).__name__
        x = as_tensor(input)
        if x.ndim not in (1, 2):
            msg = (
                f"{name}: `input` must be 2-D (batch, input_size) or 1-D (input_size,), got "
                f"shape {shape_str(x.shape)}"
            )
            raise ValueError(msg)
        if x.shape[-1] != self.input_size:
            msg = (
                f"{name}: `input` has {x.shape[-1]} features but input_size="
                f"{self.input_size} (input shape {shape_str(x.shape)})"
            )
            raise ValueError(msg)
        unbatched = x.ndim == 1
        expected = (self.hidden_size,) if unbatched else (x.shape[0], self.hidden_size)
        states: list[Tensor | None] = []
        for what, t in (("hx", hx), ("cx", cx)):
            if t is None:
                states.append(None)
                continue
            t = as_tensor(t)
            if t.shape != expected:
                msg = (
                    f"{name}: `{what}` must have shape {shape_str(expected)} for input shape "
                    f"{shape_str(x.shape)}, got {shape_str(t.shape)}"
                )
                raise ValueError(msg)
            states.append(_shape.unsqueeze(t, 0) if unbatched else t)
        weights = [self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh]
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        arrays: dict[str, np.ndarray | None] = {
            k: None if w is None else w.numpy() for k, w in zip(names, weights, strict=True)
        }
        arrays["input"] = x.numpy()
        arrays["hx"] = None if states[0] is None else states[0].numpy()
        arrays["cx"] = None if states[1] is None else states[1].numpy()
        same_float_dtype(name, **arrays)
        # one time step: (1, N, I), an unbatched sample as N = 1
        seq = _shape.unsqueeze(_shape.unsqueeze(x, 0) if unbatched else x, 0)
        _, h, c = _layer(self.mode, seq, weights, states[0], states[1], False)
        if unbatched:
            h = _shape.squeeze(h, 0)
            c = None if c is None else _shape.squeeze(c, 0)
        return h, c

    def get_config(self) -> dict[str, Any]:
        """Constructor kwargs as JSON-serialisable values."""
        return {"input_size": self.input_size, "hidden_size": self.hidden_size, "bias": self.bias}

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        return s


class RNNCell(RNNCellBase):
    """One Elman step ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``, act tanh or relu.

    ``forward(input, hx=None) -> h'`` like ``torch.nn.RNNCell``: input ``(N, input_size)``
    or ``(input_size,)``, hx and h' ``(N, hidden_size)`` or ``(hidden_size,)``; hx None is
    zeros.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        dtype: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            msg = f"RNNCell: `nonlinearity` must be 'tanh' or 'relu', got {nonlinearity!r}"
            raise ValueError(msg)
        self.nonlinearity = nonlinearity
        super().__init__(f"rnn_{nonlinearity}", input_size, hidden_size, bias, dtype)

    def forward(self, input: Any, hx: Any = None) -> Tensor:
        return self._step(input, hx, None)[0]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "nonlinearity": self.nonlinearity}

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else f"{s}, nonlinearity={self.nonlinearity!r}"


class LSTMCell(RNNCellBase):
    """One LSTM step, PyTorch's gate layout (i, f, g, o).

    ``forward(input, hx=None) -> (h', c')`` like ``torch.nn.LSTMCell``; hx is ``(h, c)``
    (None is zeros), shapes as :class:`RNNCell`.
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = None
    ) -> None:
        super().__init__("lstm", input_size, hidden_size, bias, dtype)

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Tensor]:
        if hx is not None and (not isinstance(hx, tuple | list) or len(hx) != 2):
            msg = f"LSTMCell: `hx` must be a tuple (h, c), got {type(hx).__name__}"
            raise TypeError(msg)
        h, c = self._step(input, *(hx if hx is not None else (None, None)))
        return h, cast(Tensor, c)  # an LSTM step always has a cell state


class GRUCell(RNNCellBase):
    """One GRU step, PyTorch's gate layout (r, z, n) with ``n = tanh(W_in x + b_in +
    r * (W_hn h + b_hn))``. ``forward(input, hx=None) -> h'`` as :class:`RNNCell`.
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = None
    ) -> None:
        super().__init__("gru", input_size, hidden_size, bias, dtype)

    def forward(self, input: Any, hx: Any = None) -> Tensor:
        return self._step(input, hx, None)[0]
