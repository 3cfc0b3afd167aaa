"""``pad`` and ``normalize``, composed of differentiable dlx ops (so they record their own
graph and have double backward through those ops)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from dlx._ops.elementwise import as_tensor
from dlx._ops.indexing import index_select
from dlx._ops.norms import norm
from dlx._ops.shape import cat
from dlx._ops.unary import clamp
from dlx._ops.views import narrow
from dlx._validation import as_int, normalize_axis
from dlx.tensor import Tensor

_MODES = ("constant", "reflect", "replicate", "circular")


def _source_index(n: int, left: int, right: int, mode: str) -> np.ndarray:
    """For each output position along one axis, the input position it copies."""
    pos = np.arange(-left, n + right)
    if mode == "reflect":
        period = 2 * (n - 1)
        r = np.abs(pos) % period if period else np.zeros_like(pos)
        return np.where(r < n, r, period - r)
    if mode == "replicate":
        return np.clip(pos, 0, n - 1)
    return pos % n  # circular


def pad(
    input: Any, pad: Sequence[int], mode: str = "constant", value: float | None = None
) -> Tensor:
    """Pad the last ``len(pad) // 2`` axes (``F.pad``): ``pad = (left_last, right_last,
    left_second_last, right_second_last, ...)``.

    ``mode``: ``"constant"`` (fill with ``value``, default 0; negative sizes crop),
    ``"reflect"`` (mirror without repeating the edge; each size < the axis length),
    ``"replicate"`` (repeat the edge), ``"circular"`` (wrap around; each size <= the axis
    length). The non-constant modes pad the last 1-3 axes of an input with one or two more
    axes (PyTorch's rule).
    """
    fn = "pad"
    x = as_tensor(input)
    if not isinstance(pad, Sequence) or isinstance(pad, str):
        msg = f"{fn}: `pad` must be a sequence of ints, got {type(pad).__name__}"
        raise TypeError(msg)
    sizes = [as_int(p, "pad") for p in pad]
    if len(sizes) % 2:
        msg = f"{fn}: `pad` must have an even length (left, right per axis), got {len(sizes)}"
        raise ValueError(msg)
    k = len(sizes) // 2
    if k > x.ndim:
        msg = f"{fn}: `pad` pads {k} axes but the input has only {x.ndim} (shape {tuple(x.shape)})"
        raise ValueError(msg)
    if mode not in _MODES:
        msg = f"{fn}: `mode` must be one of {', '.join(_MODES)}, got {mode!r}"
        raise ValueError(msg)
    if mode != "constant":
        if value not in (None, 0, 0.0):
            msg = f"{fn}: `value` is only used in constant mode, got value={value!r} with mode={mode!r}"
            raise ValueError(msg)
        if k > 3 or x.ndim not in (k + 1, k + 2):
            msg = (
                f"{fn}: {mode} padding of {k} axes needs a {k + 1}-D or {k + 2}-D input, "
                f"got shape {tuple(x.shape)}"
            )
            raise ValueError(msg)
    fill = 0.0 if value is None else float(value)
    out = x
    for i in range(k):
        axis = x.ndim - 1 - i
        left, right = sizes[2 * i], sizes[2 * i + 1]
        n = out.shape[axis]
        if mode == "constant":
            if left < 0 or right < 0:
                lo, hi = max(-left, 0), max(-right, 0)
                if lo + hi > n:
                    msg = f"{fn}: negative padding {(left, right)} crops more than axis {axis} holds ({n})"
                    raise ValueError(msg)
                out = narrow(out, axis, lo, n - lo - hi)
            parts = []
            for size, first in ((max(left, 0), True), (max(right, 0), False)):
                if size:
                    shape = list(out.shape)
                    shape[axis] = size
                    block = as_tensor(np.full(shape, fill, dtype=out.dtype))
                    parts.append((first, block))
            if parts:
                seq = [b for f, b in parts if f] + [out] + [b for f, b in parts if not f]
                out = cat(seq, axis)
            continue
        if left < 0 or right < 0:
            msg = f"{fn}: {mode} padding sizes must be >= 0, got {(left, right)} for axis {axis}"
            raise ValueError(msg)
        limit_ok = (left < n and right < n) if mode == "reflect" else (left <= n and right <= n)
        if (left or right) and (n == 0 or not limit_ok):
            rule = "smaller than" if mode == "reflect" else "at most"
            msg = (
                f"{fn}: {mode} padding sizes must be {rule} the axis length, got {(left, right)} "
                f"for axis {axis} of size {n}"
            )
            raise ValueError(msg)
        if left or right:
            out = index_select(out, axis, _source_index(n, left, right, mode))
    return out


def normalize(input: Any, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """``input / max(||input||_p, eps)`` along ``dim`` (``F.normalize``)."""
    fn = "normalize"
    x = as_tensor(input)
    if x.dtype.kind != "f":
        msg = f"{fn}: `input` must be float32 or float64, got {x.dtype}"
        raise TypeError(msg)
    d = normalize_axis(dim, x.ndim, "dim")
    if not (isinstance(eps, int | float) and eps >= 0 and math.isfinite(eps)):
        msg = f"{fn}: `eps` must be a finite number >= 0, got {eps!r}"
        raise ValueError(msg)
    denom = clamp(norm(x, p, d, keepdim=True), min=float(eps))
    return x / denom
