"""``TransformerEncoderLayer`` and ``TransformerEncoder`` (PyTorch's names and layout)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from dlx._validation import as_int
from dlx.nn.functional import gelu, relu
from dlx.nn.modules.attention import MultiheadAttention, _attn_sizes, _probability
from dlx.nn.modules.container import ModuleList
from dlx.nn.modules.dropout import Dropout
from dlx.nn.modules.linear import Linear
from dlx.nn.modules.module import Module
from dlx.nn.modules.normalization import LayerNorm
from dlx.tensor import Tensor

_ACTIVATIONS: dict[str, Callable[[Any], Any]] = {"relu": relu, "gelu": gelu}


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with a residual and a layer norm.

    ``norm_first=False`` (post-norm): ``x = norm1(x + sa(x)); x = norm2(x + ff(x))``;
    ``norm_first=True``: ``x = x + sa(norm1(x)); x = x + ff(norm2(x))``, with
    ``ff(x) = linear2(dropout(activation(linear1(x))))``. Submodules are named as in
    PyTorch (``self_attn``, ``linear1``, ``linear2``, ``norm1``, ``norm2``, ``dropout``,
    ``dropout1``, ``dropout2``), so a PyTorch state dict loads unchanged.

    Parameters
    ----------
    d_model, nhead : int
        Width (divisible by ``nhead``) and number of heads.
    dim_feedforward : int
        Hidden width of the feed-forward block (default 2048).
    dropout : float
        Dropout probability everywhere (default 0.1).
    activation : "relu", "gelu" or callable
    layer_norm_eps : float
    batch_first, norm_first, bias : bool
    dtype : numpy dtype, optional
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Any], Any] = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = "TransformerEncoderLayer"
        d, h = _attn_sizes(name, d_model, nhead)
        ff = as_int(dim_feedforward, "dim_feedforward")
        if ff < 1:
            msg = f"{name}: `dim_feedforward` must be positive, got {ff}"
            raise ValueError(msg)
        p = _probability(name, dropout)
        if isinstance(activation, str):
            if activation not in _ACTIVATIONS:
                msg = (
                    f"{name}: `activation` must be 'relu', 'gelu' or a callable, got {activation!r}"
                )
                raise ValueError(msg)
            self.activation_name: str | None = activation
            self.activation = _ACTIVATIONS[activation]
        elif callable(activation):
            self.activation_name = None
            self.activation = activation
        else:
            msg = f"{name}: `activation` must be 'relu', 'gelu' or a callable, got {activation!r}"
            raise TypeError(msg)
        self.d_model, self.nhead, self.dim_feedforward = d, h, ff
        self.layer_norm_eps = float(layer_norm_eps)
        self.batch_first, self.norm_first = bool(batch_first), bool(norm_first)
        self.self_attn = MultiheadAttention(
            d, h, dropout=p, bias=bias, batch_first=batch_first, dtype=dtype
        )
        self.linear1 = Linear(d, ff, bias=bias, dtype=dtype)
        self.dropout = Dropout(p)
        self.linear2 = Linear(ff, d, bias=bias, dtype=dtype)
        self.norm1 = LayerNorm(d, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(p)
        self.dropout2 = Dropout(p)

    def _sa(self, x: Tensor, mask: Any, padding: Any, is_causal: bool) -> Tensor:
        out, _ = self.self_attn(
            x,
            x,
            x,
            key_padding_mask=padding,
            need_weights=False,
            attn_mask=mask,
            is_causal=is_causal,
        )
        return self.dropout1(out)

    def _ff(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(
        self,
        src: Tensor,
        src_mask: Any = None,
        src_key_padding_mask: Any = None,
        is_causal: bool = False,
    ) -> Tensor:
        """``src`` ``(L, N, E)`` (``(N, L, E)`` with ``batch_first``, or ``(L, E)``)."""
        x = src
        if self.norm_first:
            x = x + self._sa(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff(self.norm2(x))
        x = self.norm1(x + self._sa(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff(x))

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The input's shape."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON values (a callable activation cannot be saved)."""
        if self.activation_name is None:
            msg = (
                "TransformerEncoderLayer: a callable `activation` cannot be saved in a model "
                "file; use activation='relu' or 'gelu', or save the state dict"
            )
            raise ValueError(msg)
        return {
            "d_model": self.d_model,
            "nhead": self.nhead,
            "dim_feedforward": self.dim_feedforward,
            "dropout": self.dropout.p,
            "activation": self.activation_name,
            "layer_norm_eps": self.layer_norm_eps,
            "batch_first": self.batch_first,
            "norm_first": self.norm_first,
            "bias": self.linear1.bias is not None,
            "dtype": self.linear1.weight.dtype.name,
        }

    @classmethod
    def _from_children(cls, children: dict[str, Module], config: dict[str, Any]) -> Module:
        """Rebuild from a model file: the constructor, then the stored submodules."""
        module = cls(**config)
        for k, child in children.items():
            setattr(module, k, child)
        return module


class TransformerEncoder(Module):
    """``num_layers`` deep copies of ``encoder_layer`` applied in turn, then ``norm``.

    ``forward(src, mask=None, src_key_padding_mask=None, is_causal=None)`` passes the
    masks to every layer. ``enable_nested_tensor`` and ``mask_check`` are accepted for
    PyTorch compatibility and change nothing: padded positions are computed like any
    other (PyTorch's nested-tensor fast path in evaluation returns zeros there).
    """

    def __init__(
        self,
        encoder_layer: Module,
        num_layers: int,
        norm: Module | None = None,
        enable_nested_tensor: bool = True,
        mask_check: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(encoder_layer, Module):
            msg = f"TransformerEncoder: `encoder_layer` must be a Module, got {type(encoder_layer).__name__}"
            raise TypeError(msg)
        n = as_int(num_layers, "num_layers")
        if n < 1:
            msg = f"TransformerEncoder: `num_layers` must be positive, got {n}"
            raise ValueError(msg)
        self.num_layers = n
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(n)])
        self.norm = norm
        self.enable_nested_tensor = bool(enable_nested_tensor)
        self.mask_check = bool(mask_check)

    def forward(
        self,
        src: Tensor,
        mask: Any = None,
        src_key_padding_mask: Any = None,
        is_causal: bool | None = None,
    ) -> Tensor:
        x = src
        for layer in self.layers:
            x = layer(
                x,
                src_mask=mask,
                src_key_padding_mask=src_key_padding_mask,
                is_causal=bool(is_causal),
            )
        if self.norm is not None:
            x = self.norm(x)
        return x

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The input's shape."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        """The number of layers and flags (the layers themselves are the children)."""
        return {
            "num_layers": self.num_layers,
            "enable_nested_tensor": self.enable_nested_tensor,
            "mask_check": self.mask_check,
        }

    @classmethod
    def _from_children(cls, children: dict[str, Module], config: dict[str, Any]) -> Module:
        """Rebuild from a model file around the stored layers (and norm)."""
        layers = children.get("layers")
        if not isinstance(layers, ModuleList) or len(layers) != config.get("num_layers"):
            msg = f"TransformerEncoder: `layers` must be a ModuleList of num_layers={config.get('num_layers')} layers"
            raise ValueError(msg)
        module = cls(layers[0], norm=children.get("norm"), **config)
        module.layers = layers
        return module
