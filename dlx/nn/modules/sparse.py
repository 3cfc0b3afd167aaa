"""``Embedding``: a lookup table of learnable rows (PyTorch's layout, init and options)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlx._validation import non_negative_int, shape_str
from dlx.nn import init
from dlx.nn.functional import embedding
from dlx.nn.functional._embedding import padding_index
from dlx.nn.modules._layer_utils import float_dtype
from dlx.nn.modules.module import Module
from dlx.nn.parameter import Parameter
from dlx.tensor import Tensor


class Embedding(Module):
    """A ``(num_embeddings, embedding_dim)`` table looked up by integer indices.

    ``weight`` starts as N(0, 1) with the ``padding_idx`` row zeroed; that row gets no
    gradient. With ``max_norm``, looked-up rows whose ``norm_type``-norm exceeds it are
    rescaled in place on each forward call; ``scale_grad_by_freq`` divides each row's
    gradient by its count in the batch. ``sparse=True`` is not supported.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.num_embeddings = non_negative_int(num_embeddings, "num_embeddings")
        self.embedding_dim = non_negative_int(embedding_dim, "embedding_dim")
        self.padding_idx = padding_index(padding_idx, self.num_embeddings, name)
        if max_norm is not None and not (
            isinstance(max_norm, int | float) and max_norm >= 0 and math.isfinite(max_norm)
        ):
            msg = f"{name}: `max_norm` must be a finite number >= 0 or None, got {max_norm!r}"
            raise ValueError(msg)
        if not (isinstance(norm_type, int | float) and norm_type > 0):
            msg = f"{name}: `norm_type` must be a positive number, got {norm_type!r}"
            raise ValueError(msg)
        if sparse:
            msg = f"{name}: `sparse=True` is not supported (dlx has dense gradients only)"
            raise ValueError(msg)
        self.max_norm = None if max_norm is None else float(max_norm)
        self.norm_type = float(norm_type)
        self.scale_grad_by_freq = bool(scale_grad_by_freq)
        self.sparse = False
        dt = float_dtype(dtype)
        self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dtype=dt))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weight from N(0, 1), the padding row zeroed."""
        init.normal_(self.weight)
        self._zero_padding_row()

    def _zero_padding_row(self) -> None:
        if self.padding_idx is not None:
            self.weight.numpy()[self.padding_idx] = 0
            self.weight._bump_version()

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Any,
        freeze: bool = True,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
    ) -> Embedding:
        """An Embedding holding a copy of the 2-D ``embeddings``; ``freeze`` turns off its
        gradient. The padding row keeps its given values (as in PyTorch)."""
        arr = embeddings.numpy() if isinstance(embeddings, Tensor) else np.asarray(embeddings)
        if arr.ndim != 2:
            msg = f"Embedding.from_pretrained: `embeddings` must be 2-D, got shape {shape_str(arr.shape)}"
            raise ValueError(msg)
        layer = cls(
            arr.shape[0],
            arr.shape[1],
            padding_idx=padding_idx,
            max_norm=max_norm,
            norm_type=norm_type,
            scale_grad_by_freq=scale_grad_by_freq,
            sparse=sparse,
            dtype=arr.dtype if arr.dtype.kind == "f" else None,
        )
        layer.weight.numpy()[...] = arr
        layer.weight._bump_version()
        layer.weight.requires_grad = not freeze
        return layer

    def forward(self, input: Any) -> Tensor:
        return embedding(
            input,
            self.weight,
            self.padding_idx,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
        )

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """``input_shape + (embedding_dim,)``."""
        return (*tuple(input_shape), self.embedding_dim)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2.0:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            s += ", scale_grad_by_freq=True"
        return s

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        return {
            "num_embeddings": self.num_embeddings,
            "embedding_dim": self.embedding_dim,
            "padding_idx": self.padding_idx,
            "max_norm": self.max_norm,
            "norm_type": self.norm_type,
            "scale_grad_by_freq": self.scale_grad_by_freq,
            "dtype": self.weight.dtype.name,
        }
