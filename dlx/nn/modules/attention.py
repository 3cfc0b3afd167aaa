"""``MultiheadAttention`` with PyTorch's parameters (``in_proj_weight``, ``out_proj``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx._ops.elementwise import as_tensor
from dlx._validation import as_int, shape_str
from dlx.nn import init
from dlx.nn.functional._attention import multi_head_attention_forward
from dlx.nn.modules._layer_utils import float_dtype
from dlx.nn.modules.linear import Linear
from dlx.nn.modules.module import Module
from dlx.nn.parameter import Parameter
from dlx.tensor import Tensor


class MultiheadAttention(Module):
    """Multi-head scaled dot-product attention (PyTorch's ``nn.MultiheadAttention``).

    Parameters
    ----------
    embed_dim : int
        Model width ``E``, divisible by ``num_heads``.
    num_heads : int
    dropout : float
        Dropout on the attention weights in training (default 0).
    bias : bool
        Biases on the input and output projections (default True).
    batch_first : bool
        Inputs ``(N, L, E)`` when True, ``(L, N, E)`` when False (the default);
        unbatched ``(L, E)`` inputs are accepted either way.
    kdim, vdim : int, optional
        Feature sizes of key and value (default ``embed_dim``). When either differs, the
        projections are the separate ``q_proj_weight``, ``k_proj_weight`` and
        ``v_proj_weight``; otherwise one packed ``in_proj_weight`` ``(3E, E)``.
    dtype : numpy dtype, optional
        float32 (default) or float64.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        batch_first: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        e, h = _attn_sizes("MultiheadAttention", embed_dim, num_heads)
        self.embed_dim, self.num_heads, self.head_dim = e, h, e // h
        self.kdim = e if kdim is None else as_int(kdim, "kdim")
        self.vdim = e if vdim is None else as_int(vdim, "vdim")
        for name, n in (("kdim", self.kdim), ("vdim", self.vdim)):
            if n < 1:
                msg = f"MultiheadAttention: `{name}` must be positive, got {n}"
                raise ValueError(msg)
        self.dropout = _probability("MultiheadAttention", dropout)
        self.batch_first = bool(batch_first)
        self._qkv_same_embed_dim = self.kdim == e and self.vdim == e
        dt = float_dtype(dtype)
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * e, e), dtype=dt))
        else:
            self.q_proj_weight = Parameter(np.empty((e, e), dtype=dt))
            self.k_proj_weight = Parameter(np.empty((e, self.kdim), dtype=dt))
            self.v_proj_weight = Parameter(np.empty((e, self.vdim), dtype=dt))
        if bias:
            self.in_proj_bias = Parameter(np.empty((3 * e,), dtype=dt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(e, e, bias=bias, dtype=dt)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        # PyTorch: xavier-uniform projections, zero biases, out_proj weight as in Linear
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def _weights(self) -> tuple[Tensor, Tensor, Tensor]:
        if self._qkv_same_embed_dim:
            w, e = self.in_proj_weight, self.embed_dim
            return w[:e], w[e : 2 * e], w[2 * e :]
        return self.q_proj_weight, self.k_proj_weight, self.v_proj_weight

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Any = None,
        need_weights: bool = True,
        attn_mask: Any = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Attend ``query`` to ``key``/``value``; returns ``(output, weights or None)``.

        ``key_padding_mask`` ``(N, S)`` and ``attn_mask`` ``(L, S)`` or ``(N * heads, L, S)``:
        bool True = not attended, float = added. ``is_causal`` is a hint that ``attn_mask``
        is the causal mask (it must be given, as in PyTorch).
        """
        name = "MultiheadAttention"
        shapes = [tuple(getattr(t, "shape", ())) for t in (query, key, value)]
        unbatched = len(shapes[0]) == 2
        want = 2 if unbatched else 3
        for arg, s, feat in zip(
            ("query", "key", "value"), shapes, (self.embed_dim, self.kdim, self.vdim), strict=True
        ):
            if len(s) != want or s[-1] != feat:
                layout = "(L, N, E)" if not self.batch_first else "(N, L, E)"
                msg = (
                    f"{name}: expected `{arg}` of {want}-D shape with last dimension {feat} "
                    f"({layout} or unbatched (L, E)), got shape {shape_str(s)}"
                )
                raise ValueError(msg)
        if is_causal and attn_mask is None:
            msg = f"{name}: `is_causal`=True is a hint that needs `attn_mask` (the causal mask)"
            raise ValueError(msg)
        if unbatched:
            q, k, v = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
            if key_padding_mask is not None:
                key_padding_mask = as_tensor(key_padding_mask).unsqueeze(0)
        elif self.batch_first:
            q, k, v = query, key, value
        else:
            q, k, v = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        if k.shape[:2] != v.shape[:2] or q.shape[0] != k.shape[0]:
            msg = (
                f"{name}: `key` and `value` must share batch and sequence sizes, and `query` "
                f"the batch size, got shapes {shapes[0]}, {shapes[1]} and {shapes[2]}"
            )
            raise ValueError(msg)
        wq, wk, wv = self._weights()
        out, weights = multi_head_attention_forward(
            q,
            k,
            v,
            self.num_heads,
            wq,
            wk,
            wv,
            self.in_proj_bias,
            self.out_proj.weight,
            self.out_proj.bias,
            self.dropout if self.training else 0.0,
            key_padding_mask=key_padding_mask,
            need_weights=bool(need_weights),
            attn_mask=attn_mask,
            average_attn_weights=bool(average_attn_weights),
        )
        if unbatched:
            return out.squeeze(0), None if weights is None else weights.squeeze(0)
        if not self.batch_first:
            out = out.transpose(0, 1)
        return out, weights

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Output shape of self-attention on a query of ``input_shape``."""
        return tuple(input_shape)

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, batch_first={self.batch_first}"

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        return {
            "embed_dim": self.embed_dim,
            "num_heads": self.num_heads,
            "dropout": self.dropout,
            "bias": self.in_proj_bias is not None,
            "batch_first": self.batch_first,
            "kdim": self.kdim,
            "vdim": self.vdim,
            "dtype": self.out_proj.weight.dtype.name,
        }

    @classmethod
    def _from_children(cls, children: dict[str, Module], config: dict[str, Any]) -> Module:
        """Rebuild from a model file: the constructor, then the stored ``out_proj``."""
        module = cls(**config)
        out_proj = children.get("out_proj")
        if not isinstance(out_proj, Linear):
            msg = "MultiheadAttention: the `out_proj` child must be a Linear layer"
            raise ValueError(msg)  # noqa: TRY004 - a malformed file is a bad value
        module.out_proj = out_proj
        return module


def _attn_sizes(name: str, embed_dim: Any, num_heads: Any) -> tuple[int, int]:
    e, h = as_int(embed_dim, "embed_dim"), as_int(num_heads, "num_heads")
    if e < 1 or h < 1:
        msg = f"{name}: `embed_dim` and `num_heads` must be positive, got {e} and {h}"
        raise ValueError(msg)
    if e % h:
        msg = f"{name}: `embed_dim` must be divisible by `num_heads`, got {e} and {h}"
        raise ValueError(msg)
    return e, h


def _probability(name: str, p: Any) -> float:
    if isinstance(p, bool) or not isinstance(p, int | float):
        msg = f"{name}: `dropout` must be a float, got {p!r}"
        raise TypeError(msg)
    if not 0.0 <= p <= 1.0:
        msg = f"{name}: `dropout` must be in [0, 1], got {p}"
        raise ValueError(msg)
    return float(p)
