"""Recurrent layers ``RNN``, ``LSTM`` and ``GRU`` (PyTorch names, layout and init)."""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np

from dlx._validation import as_int
from dlx.nn import init
from dlx.nn.functional._rnn import GATES, rnn
from dlx.nn.modules._layer_utils import float_dtype, recurrent_sizes
from dlx.nn.modules.module import Module
from dlx.nn.parameter import Parameter
from dlx.tensor import Tensor

__all__ = ["GRU", "LSTM", "RNN", "RNNBase"]


class RNNBase(Module):
    """Shared constructor, parameters and forward of :class:`RNN`, :class:`LSTM`, :class:`GRU`.

    Parameters per layer ``k`` (and ``..._reverse`` for the backward direction):
    ``weight_ih_l{k}`` ``(G*H, I_k)``, ``weight_hh_l{k}`` ``(G*H, H)``, ``bias_ih_l{k}`` and
    ``bias_hh_l{k}`` ``(G*H,)``, where ``I_0 = input_size``, ``I_k = D*H`` above, and G is
    1 (RNN), 4 (LSTM gates i, f, g, o) or 3 (GRU gates r, z, n). All start as
    U(-1/sqrt(H), 1/sqrt(H)) like PyTorch.
    """

    mode: str
    input_size: int
    hidden_size: int
    num_layers: int
    bias: bool
    batch_first: bool
    dropout: float
    bidirectional: bool

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        cls = type(self).__name__
        self.mode = mode
        self.input_size, self.hidden_size = recurrent_sizes(cls, input_size, hidden_size)
        self.num_layers = as_int(num_layers, "num_layers")
        if self.num_layers <= 0:
            msg = f"{cls}: `num_layers` must be positive, got {self.num_layers}"
            raise ValueError(msg)
        if (
            not isinstance(dropout, numbers.Real)
            or isinstance(dropout, bool)
            or not 0 <= dropout <= 1
        ):
            msg = f"{cls}: `dropout` must be a number in [0, 1], got {dropout!r}"
            raise ValueError(msg)
        if dropout > 0 and self.num_layers == 1:
            msg = (
                f"{cls}: dropout={dropout} has no effect with num_layers=1 (dropout is applied "
                "between layers only)"
            )
            warnings.warn(msg, UserWarning, stacklevel=3)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        dt = float_dtype(dtype)
        gh = GATES[mode] * self.hidden_size
        dirs = 2 if self.bidirectional else 1
        self._weight_names: list[tuple[str, ...]] = []
        for layer in range(self.num_layers):
            in_size = self.input_size if layer == 0 else dirs * self.hidden_size
            for d in range(dirs):
                sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
                names = [f"weight_ih{sfx}", f"weight_hh{sfx}", f"bias_ih{sfx}", f"bias_hh{sfx}"]
                setattr(self, names[0], Parameter(np.empty((gh, in_size), dt)))
                setattr(self, names[1], Parameter(np.empty((gh, self.hidden_size), dt)))
                if self.bias:
                    setattr(self, names[2], Parameter(np.empty((gh,), dt)))
                    setattr(self, names[3], Parameter(np.empty((gh,), dt)))
                else:
                    self.register_parameter(names[2], None)
                    self.register_parameter(names[3], None)
                self._weight_names.append(tuple(names))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for names in self._weight_names:
            for n in names:
                p = getattr(self, n)
                if p is not None:
                    init.uniform_(p, -bound, bound)

    @property
    def all_weights(self) -> list[list[Parameter | None]]:
        """Per layer and direction: [weight_ih, weight_hh, bias_ih, bias_hh] (PyTorch order)."""
        return [[getattr(self, n) for n in names] for names in self._weight_names]

    def _run(self, input: Any, hx: Any) -> tuple[Tensor, Tensor, Tensor | None]:
        return rnn(
            self.mode, input, self.all_weights, hx,
            num_layers=self.num_layers, bidirectional=self.bidirectional,
            batch_first=self.batch_first, dropout=self.dropout, training=self.training,
            name=type(self).__name__,
        )  # fmt: skip

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Any]:
        output, h_n, _ = self._run(input, hx)
        return output, h_n

    def get_config(self) -> dict[str, Any]:
        """Constructor kwargs as JSON-serialisable values."""
        return {
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "bias": self.bias,
            "batch_first": self.batch_first,
            "dropout": self.dropout,
            "bidirectional": self.bidirectional,
        }

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        defaults = {"num_layers": 1, "nonlinearity": "tanh", "bias": True, "batch_first": False,
                    "dropout": 0.0, "bidirectional": False}  # fmt: skip
        for k, v in self.get_config().items():
            if k in defaults and v != defaults[k]:
                s += f", {k}={v!r}"
        return s


class RNN(RNNBase):
    """Elman RNN ``h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``, act tanh or relu.

    ``forward(input, hx=None) -> (output, h_n)`` exactly like ``torch.nn.RNN``: input
    ``(T, N, I)`` (``(N, T, I)`` with batch_first, or unbatched ``(T, I)``), hx and h_n
    ``(num_layers * D, N, H)``, output ``(T, N, D * H)`` with D = 2 when bidirectional.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            msg = f"RNN: `nonlinearity` must be 'tanh' or 'relu', got {nonlinearity!r}"
            raise ValueError(msg)
        self.nonlinearity = nonlinearity
        super().__init__(
            f"rnn_{nonlinearity}", input_size, hidden_size, num_layers, bias, batch_first,
            dropout, bidirectional, dtype,
        )  # fmt: skip

    def get_config(self) -> dict[str, Any]:
        cfg = super().get_config()
        return {**dict(list(cfg.items())[:3]), "nonlinearity": self.nonlinearity,
                **dict(list(cfg.items())[3:])}  # fmt: skip


class LSTM(RNNBase):
    """Long short-term memory, PyTorch's gate layout (i, f, g, o) and semantics.

    ``forward(input, hx=None) -> (output, (h_n, c_n))``; hx is ``(h_0, c_0)``, each
    ``(num_layers * D, N, H)``; shapes otherwise as :class:`RNN`.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            "lstm", input_size, hidden_size, num_layers, bias, batch_first, dropout,
            bidirectional, dtype,
        )  # fmt: skip

    def forward(self, input: Any, hx: Any = None) -> tuple[Tensor, Any]:
        if hx is not None and (not isinstance(hx, tuple | list) or len(hx) != 2):
            msg = f"LSTM: `hx` must be a tuple (h_0, c_0), got {type(hx).__name__}"
            raise TypeError(msg)
        output, h_n, c_n = self._run(input, hx)
        return output, (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit, PyTorch's gate layout (r, z, n) with ``n = tanh(W_in x + b_in +
    r * (W_hn h + b_hn))``. ``forward(input, hx=None) -> (output, h_n)`` as :class:`RNN`.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            "gru", input_size, hidden_size, num_layers, bias, batch_first, dropout,
            bidirectional, dtype,
        )  # fmt: skip
