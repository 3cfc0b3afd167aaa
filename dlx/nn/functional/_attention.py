"""``scaled_dot_product_attention`` and the multi-head attention forward, composed of
differentiable ops (matmul, masked fill, softmax, dropout), with PyTorch's semantics."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlx._native import _core
from dlx._ops._common import composite_backward, is_array
from dlx._ops.activation import softmax
from dlx._ops.elementwise import as_tensor, where
from dlx._ops.linalg import matmul
from dlx._validation import shape_str
from dlx.autograd.function import Function, c_contiguous
from dlx.nn.functional._dropout import dropout
from dlx.nn.functional._linear import linear
from dlx.tensor import Tensor


def _broadcastable(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


def scaled_dot_product_attention(
    query: Any,
    key: Any,
    value: Any,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """``softmax(query @ key^T * scale + mask) @ value`` (PyTorch's
    ``F.scaled_dot_product_attention``).

    Parameters
    ----------
    query : Tensor
        Shape ``(..., L, E)``.
    key : Tensor
        Shape ``(..., S, E)``.
    value : Tensor
        Shape ``(..., S, Ev)``; the batch dimensions ``...`` of the three broadcast.
    attn_mask : Tensor, optional
        Broadcastable to ``(..., L, S)``: a bool mask keeps the scores where True
        (others get -inf), a float mask is added to the scores.
    dropout_p : float
        Dropout probability on the attention weights (always applied when > 0, as in
        PyTorch: pass 0 in evaluation).
    is_causal : bool
        Mask with the lower-triangular ``(L, S)`` mask (query i sees keys 0..i); not
        together with ``attn_mask``.
    scale : float, optional
        Defaults to ``1 / sqrt(E)``.

    Returns
    -------
    Tensor
        Shape ``(..., L, Ev)``. A row whose keys are all masked out is NaN, like the
        explicit softmax formula.
    """
    fn = "scaled_dot_product_attention"
    q, k, v = as_tensor(query), as_tensor(key), as_tensor(value)
    for name, t in (("query", q), ("key", k), ("value", v)):
        if t.ndim < 2:
            msg = f"{fn}: `{name}` must have at least 2 dimensions (..., seq, features), got shape {shape_str(t.shape)}"
            raise ValueError(msg)
        if t.dtype.kind != "f":
            msg = f"{fn}: `{name}` must be a float tensor, got dtype {t.dtype}"
            raise TypeError(msg)
    if q.shape[-1] != k.shape[-1]:
        msg = f"{fn}: `query` and `key` must have the same last dimension, got shapes {shape_str(q.shape)} and {shape_str(k.shape)}"
        raise ValueError(msg)
    if k.shape[-2] != v.shape[-2]:
        msg = f"{fn}: `key` and `value` must have the same sequence length (dim -2), got shapes {shape_str(k.shape)} and {shape_str(v.shape)}"
        raise ValueError(msg)
    if not _broadcastable(q.shape[:-2], k.shape[:-2]) or not _broadcastable(
        k.shape[:-2], v.shape[:-2]
    ):
        msg = f"{fn}: the batch dimensions of `query`, `key` and `value` must broadcast, got shapes {shape_str(q.shape)}, {shape_str(k.shape)} and {shape_str(v.shape)}"
        raise ValueError(msg)
    if not 0.0 <= float(dropout_p) <= 1.0:
        msg = f"{fn}: `dropout_p` must be in [0, 1], got {dropout_p}"
        raise ValueError(msg)
    length, src = q.shape[-2], k.shape[-2]
    mask = None
    if is_causal:
        if attn_mask is not None:
            msg = f"{fn}: `attn_mask` must be None when `is_causal` is True"
            raise ValueError(msg)
        mask = Tensor(np.tril(np.ones((length, src), dtype=bool)))
    elif attn_mask is not None:
        mask = as_tensor(attn_mask)
        if not _broadcastable(mask.shape, (*q.shape[:-2], length, src)) or mask.ndim == 0:
            msg = f"{fn}: `attn_mask` must broadcast to the scores of shape (..., {length}, {src}), got shape {shape_str(mask.shape)}"
            raise ValueError(msg)
        if mask.dtype != np.bool_ and mask.dtype.kind != "f":
            msg = f"{fn}: `attn_mask` must be bool or float, got dtype {mask.dtype}"
            raise TypeError(msg)
    s = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    fused = (
        dropout_p == 0
        and q.dtype == k.dtype == v.dtype
        and (mask is None or not mask.requires_grad)
        and min(q.shape[-2:] + k.shape[-2:] + v.shape[-1:]) > 0
        and (
            mask is None
            or np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2], mask.shape[:-2])
            == np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
        )
    )
    if fused:
        return _fused(q, k, v, None if is_causal else mask, is_causal, s)
    return _composite(q, k, v, mask, s, float(dropout_p))


def _composite(q: Tensor, k: Tensor, v: Tensor, mask: Any, scale: float, p: float) -> Tensor:
    """The attention formula in differentiable ops (masks as given: bool keeps, float adds)."""
    scores = matmul(q * scale, k.transpose(-2, -1))
    if mask is not None:
        if mask.dtype == np.bool_:
            scores = where(mask, scores, -math.inf)
        else:
            scores = scores + mask.to(scores.dtype)
    attn = softmax(scores, -1)
    if p > 0:
        attn = dropout(attn, p, training=True)
    return matmul(attn, v)


class FusedAttention(Function):
    """``softmax(q k^T * scale + mask) v`` on (B, L, E) batches in one kernel; ``mask`` is
    an additive constant array (1 or B, L, S) or None."""

    double_backward = True  # via the composite form (composite_backward)

    @staticmethod
    def forward(ctx, q, k, v, mask, causal, scale):
        ctx.save_for_backward(q, k, v)
        ctx.mask, ctx.causal, ctx.scale = mask, causal, scale
        out, ctx.probs = _core.attention_forward(
            c_contiguous(q), c_contiguous(k), c_contiguous(v), mask, causal, scale
        )
        return out

    @staticmethod
    def backward(ctx, g):
        q, k, v = ctx.saved_tensors
        if is_array(g):
            return _core.attention_backward(
                c_contiguous(g),
                c_contiguous(q),
                c_contiguous(k),
                c_contiguous(v),
                ctx.probs,
                ctx.scale,
            )
        mask = ctx.mask
        if ctx.causal:
            mask = np.where(np.tril(np.ones(ctx.probs.shape[1:], dtype=bool)), 0.0, -np.inf)
        m = None if mask is None else Tensor(mask.astype(q.dtype))
        return composite_backward(
            ctx, lambda q, k, v: _composite(q, k, v, m, ctx.scale, 0.0), (q, k, v), g
        )


def _fused(q: Tensor, k: Tensor, v: Tensor, mask: Any, causal: bool, scale: float) -> Tensor:
    """Broadcast the batch dimensions, flatten them, and run ``FusedAttention``."""
    batch = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    b = math.prod(batch)
    (length, e), (src, ev) = q.shape[-2:], v.shape[-2:]

    def flat(t: Tensor, rows: int, cols: int) -> Tensor:
        if t.shape[:-2] != batch:
            t = t.expand(*batch, rows, cols)
        return t.reshape(b, rows, cols)

    add = None
    if mask is not None:
        m = mask.numpy()
        if m.dtype == np.bool_:
            m = np.where(m, 0.0, -np.inf)
        m = m.astype(q.dtype, copy=False)
        if math.prod(m.shape[:-2]) == 1:  # one mask for every batch entry
            add = np.ascontiguousarray(np.broadcast_to(m.reshape(m.shape[-2:]), (1, length, src)))
        else:
            add = np.broadcast_to(m, (*batch, length, src)).reshape(b, length, src)
            add = np.ascontiguousarray(add)
    out = FusedAttention.apply(
        flat(q, length, e), flat(k, src, e), flat(v, src, ev), mask=add, causal=causal, scale=scale
    )
    return out.reshape(*batch, length, ev)


def _float_mask(mask: Any, name: str, dtype: np.dtype) -> Tensor | None:
    """A bool mask (True = masked out) as an additive -inf/0 float mask; float unchanged."""
    if mask is None:
        return None
    m = as_tensor(mask)
    if m.dtype == np.bool_:
        return Tensor(np.where(m.numpy(), -np.inf, 0.0).astype(dtype))
    if m.dtype.kind != "f":
        msg = f"multi_head_attention_forward: `{name}` must be bool or float, got dtype {m.dtype}"
        raise TypeError(msg)
    return m.to(dtype)


def multi_head_attention_forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    num_heads: int,
    q_weight: Tensor,
    k_weight: Tensor,
    v_weight: Tensor,
    in_bias: Tensor | None,
    out_weight: Tensor,
    out_bias: Tensor | None,
    dropout_p: float,
    key_padding_mask: Any = None,
    need_weights: bool = True,
    attn_mask: Any = None,
    average_attn_weights: bool = True,
) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention on batch-first ``(N, L, E)`` query and ``(N, S, *)`` key/value.

    ``key_padding_mask`` ``(N, S)`` and ``attn_mask`` ``(L, S)`` or ``(N * num_heads, L, S)``
    follow ``nn.MultiheadAttention`` (bool: True = not attended; float: added). Returns
    the output ``(N, L, E)`` and, with ``need_weights``, the attention weights
    ``(N, L, S)`` (averaged over heads) or ``(N, num_heads, L, S)``.
    """
    fn = "MultiheadAttention"
    n, length, embed = query.shape
    src = key.shape[1]
    head = embed // num_heads
    e = embed
    if in_bias is None:
        bq = bk = bv = None
    else:
        bq, bk, bv = in_bias[:e], in_bias[e : 2 * e], in_bias[2 * e :]
    q = linear(query, q_weight, bq).reshape(n, length, num_heads, head).transpose(1, 2)
    k = linear(key, k_weight, bk).reshape(n, src, num_heads, head).transpose(1, 2)
    v = linear(value, v_weight, bv).reshape(n, src, num_heads, head).transpose(1, 2)
    dt = query.dtype
    mask = _float_mask(attn_mask, "attn_mask", dt)
    if mask is not None:
        if mask.shape == (length, src):
            pass
        elif mask.shape == (n * num_heads, length, src):
            mask = mask.reshape(n, num_heads, length, src)
        else:
            msg = (
                f"{fn}: `attn_mask` must have shape ({length}, {src}) or "
                f"({n * num_heads}, {length}, {src}), got {shape_str(mask.shape)}"
            )
            raise ValueError(msg)
    pad = _float_mask(key_padding_mask, "key_padding_mask", dt)
    if pad is not None:
        if pad.shape != (n, src):
            msg = (
                f"{fn}: `key_padding_mask` must have shape ({n}, {src}), got {shape_str(pad.shape)}"
            )
            raise ValueError(msg)
        pad = pad.reshape(n, 1, 1, src)
        mask = pad if mask is None else mask + pad
    if not need_weights:  # the fused kernel when there is no dropout
        heads = scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
        out = heads.transpose(1, 2).reshape(n, length, embed)
        return linear(out, out_weight, out_bias), None
    scores = matmul(q * (1.0 / math.sqrt(head)), k.transpose(-2, -1))
    if mask is not None:
        scores = scores + mask
    attn = softmax(scores, -1)
    if dropout_p > 0:
        attn = dropout(attn, dropout_p, training=True)
    out = matmul(attn, v).transpose(1, 2).reshape(n, length, embed)
    out = linear(out, out_weight, out_bias)
    return out, (attn.mean(1) if average_attn_weights else attn)
