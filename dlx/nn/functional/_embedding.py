"""``embedding`` (a C++ row gather; the weight gradient is an index-grouped scatter-add)
and ``one_hot``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlx._native import _core
from dlx._ops.elementwise import as_tensor
from dlx._validation import as_int, same_float_dtype, shape_str
from dlx.autograd.function import Function, c_contiguous
from dlx.tensor import Tensor


class Embedding(Function):
    """``weight[indices]``; the indices are a constant of the node (not an input)."""

    @staticmethod
    def forward(ctx, weight, indices, padding_idx, scale_grad_by_freq):
        ctx.indices, ctx.padding_idx, ctx.scale = indices, padding_idx, scale_grad_by_freq
        ctx.num_weights = weight.shape[0]
        return _core.embedding_forward(c_contiguous(weight), indices)

    @staticmethod
    def backward(ctx, g):
        return _core.embedding_backward(
            c_contiguous(g), ctx.indices, ctx.num_weights, ctx.padding_idx, ctx.scale
        )


def _indices(input: Any, fn: str) -> np.ndarray:
    """The index array (int64, C-contiguous) behind ``input``; TypeError for non-integers."""
    arr = input._data if isinstance(input, Tensor) else np.asarray(input)
    if arr.dtype.kind not in "iu":
        msg = f"{fn}: `input` must hold integer indices (int64/long), got dtype {arr.dtype}"
        raise TypeError(msg)
    return np.ascontiguousarray(arr, dtype=np.int64)


def _check_range(idx: np.ndarray, n: int, fn: str, what: str) -> None:
    if idx.size == 0:
        return
    lo, hi = int(idx.min()), int(idx.max())
    if lo < 0 or hi >= n:
        bad = lo if lo < 0 else hi
        msg = f"{fn}: index {bad} is out of range for {what} of size {n} (valid: 0 to {n - 1})"
        raise IndexError(msg)


def padding_index(padding_idx: Any, num_embeddings: int, fn: str) -> int | None:
    """``padding_idx`` in [0, num_embeddings) (negative counts from the end), or None."""
    if padding_idx is None:
        return None
    p = as_int(padding_idx, "padding_idx")
    if not -num_embeddings <= p < num_embeddings:
        msg = (
            f"{fn}: `padding_idx` must be within num_embeddings ({num_embeddings}) "
            f"(negative counts from the end), got {p}"
        )
        raise ValueError(msg)
    return p % num_embeddings


def embedding_renorm_(weight: Tensor, idx: np.ndarray, max_norm: float, norm_type: float) -> None:
    """Rescale, in place and outside the graph, the rows of ``weight`` that ``idx`` looks up
    whose ``norm_type``-norm exceeds ``max_norm`` to norm ``max_norm`` (PyTorch's
    ``embedding_renorm_``, with its 1e-7 guard)."""
    rows = np.unique(idx)
    if rows.size == 0:
        return
    w = weight._data
    norms = np.linalg.norm(w[rows], ord=norm_type, axis=1)
    over = norms > max_norm
    if not over.any():
        return
    scale = (max_norm / (norms[over] + 1e-7)).astype(w.dtype)
    w[rows[over]] *= scale[:, None]
    weight._bump_version()


def embedding(
    input: Any,
    weight: Any,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of ``weight`` (num_embeddings, embedding_dim) at the integer ``input`` indices
    (``F.embedding``): output shape ``input.shape + (embedding_dim,)``.

    The row ``padding_idx`` gets no gradient. With ``max_norm``, looked-up rows whose
    ``norm_type``-norm exceeds it are first rescaled in place (``weight`` is modified).
    ``scale_grad_by_freq`` divides each row's gradient by its count in ``input``.
    """
    fn = "embedding"
    idx = _indices(input, fn)
    w = as_tensor(weight)
    same_float_dtype(fn, weight=w._data)
    if w.ndim != 2:
        msg = f"{fn}: `weight` must be 2-D (num_embeddings, embedding_dim), got shape {shape_str(w.shape)}"
        raise ValueError(msg)
    if sparse:
        msg = f"{fn}: `sparse=True` is not supported (dlx has dense gradients only), got {sparse!r}"
        raise ValueError(msg)
    n = w.shape[0]
    _check_range(idx, n, fn, "the embedding table")
    pad = padding_index(padding_idx, n, fn)
    if max_norm is not None:
        if not (isinstance(max_norm, int | float) and max_norm >= 0 and math.isfinite(max_norm)):
            msg = f"{fn}: `max_norm` must be a finite number >= 0 or None, got {max_norm!r}"
            raise ValueError(msg)
        if not (isinstance(norm_type, int | float) and norm_type > 0):
            msg = f"{fn}: `norm_type` must be a positive number, got {norm_type!r}"
            raise ValueError(msg)
        embedding_renorm_(w, idx, float(max_norm), float(norm_type))
    return Embedding.apply(
        w,
        indices=idx,
        padding_idx=-1 if pad is None else pad,
        scale_grad_by_freq=bool(scale_grad_by_freq),
    )


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """``(*, num_classes)`` int64 one-hot encoding of the integer ``tensor`` (``F.one_hot``);
    ``num_classes=-1`` means ``max(tensor) + 1``."""
    fn = "one_hot"
    arr = tensor._data if isinstance(tensor, Tensor) else np.asarray(tensor)
    if arr.dtype.kind not in "iu":
        msg = f"{fn}: `tensor` must hold integer class values (int64/long), got dtype {arr.dtype}"
        raise TypeError(msg)
    k = as_int(num_classes, "num_classes")
    if k == -1:
        if arr.size == 0:
            msg = f"{fn}: cannot infer `num_classes` (-1) from an empty tensor"
            raise ValueError(msg)
        k = int(arr.max()) + 1
    if k < 0:
        msg = f"{fn}: `num_classes` must be -1 or a non-negative int, got {k}"
        raise ValueError(msg)
    if arr.size and (int(arr.min()) < 0 or int(arr.max()) >= k):
        bad = int(arr.min()) if int(arr.min()) < 0 else int(arr.max())
        msg = f"{fn}: class values must be in [0, num_classes={k}), got {bad}"
        raise ValueError(msg)
    out = np.zeros((*arr.shape, k), dtype=np.int64)
    np.put_along_axis(out, arr.astype(np.int64)[..., None], 1, axis=-1)
    return as_tensor(out)
