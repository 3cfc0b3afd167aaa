"""``unfold``/``fold`` (the im2col/col2im kernels), ``interpolate`` and the adaptive pools.

Interpolation and adaptive average pooling are separable linear maps: each is
``R_h @ x @ R_w^T`` with small ``(out, in)`` resampling matrices, so their gradients (and
second derivatives) are matmuls. Adaptive max pooling finds its indices on the array and
gathers the input there, so the gradient goes to the chosen element only, as in PyTorch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlx._native import _core
from dlx._ops._common import is_array
from dlx._ops.elementwise import as_tensor
from dlx._ops.indexing import take_along_dim
from dlx._ops.linalg import matmul
from dlx._validation import shape_str
from dlx.autograd.function import Function, c_contiguous
from dlx.nn.functional._util import pair, spatial_out
from dlx.tensor import Tensor


class Unfold(Function):
    """im2col: ``(N, C, H, W)`` -> ``(N, C*kh*kw, L)``; linear, its adjoint is ``Fold``."""

    double_backward = True

    @staticmethod
    def forward(ctx, x, window):
        ctx.window, ctx.shape = window, x.shape
        return _core.im2col(c_contiguous(x), *window)

    @staticmethod
    def backward(ctx, g):
        if is_array(g):
            return _core.col2im(c_contiguous(g), tuple(ctx.shape), *ctx.window)
        return Fold.apply(g, shape=tuple(ctx.shape), window=ctx.window)


class Fold(Function):
    """col2im (overlaps summed): ``(N, C*kh*kw, L)`` -> ``(N, C, H, W)``; adjoint of Unfold."""

    double_backward = True

    @staticmethod
    def forward(ctx, cols, shape, window):
        ctx.window = window
        return _core.col2im(c_contiguous(cols), shape, *window)

    @staticmethod
    def backward(ctx, g):
        if is_array(g):
            return _core.im2col(c_contiguous(g), *ctx.window)
        return Unfold.apply(g, window=ctx.window)


def _window(fn: str, kernel_size: Any, dilation: Any, padding: Any, stride: Any) -> tuple:
    return (
        pair(kernel_size, "kernel_size", fn, minimum=1),
        pair(stride, "stride", fn, minimum=1),
        pair(padding, "padding", fn, minimum=0),
        pair(dilation, "dilation", fn, minimum=1),
    )


def unfold(
    input: Any,
    kernel_size: int | tuple[int, int],
    dilation: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    stride: int | tuple[int, int] = 1,
) -> Tensor:
    """Sliding ``(N, C, H, W)`` patches as columns ``(N, C * kH * kW, L)`` (``F.unfold``)."""
    x = as_tensor(input)
    if x.ndim != 4 or x.dtype.kind != "f":
        msg = f"unfold: `input` must be a 4-D (N, C, H, W) float tensor, got shape {shape_str(x.shape)} of {x.dtype}"
        raise ValueError(msg)
    window = _window("unfold", kernel_size, dilation, padding, stride)
    spatial_out("unfold", x.shape, window[0], window[1], window[2], window[3], ceil_mode=False)
    return Unfold.apply(x, window=window)


def fold(
    input: Any,
    output_size: int | tuple[int, int],
    kernel_size: int | tuple[int, int],
    dilation: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    stride: int | tuple[int, int] = 1,
) -> Tensor:
    """Columns ``(N, C * kH * kW, L)`` summed back into ``(N, C, *output_size)`` (``F.fold``)."""
    cols = as_tensor(input)
    window = _window("fold", kernel_size, dilation, padding, stride)
    size = pair(output_size, "output_size", "fold", minimum=1)
    if cols.ndim != 3 or cols.dtype.kind != "f":
        msg = f"fold: `input` must be a 3-D (N, C*kH*kW, L) float tensor, got shape {shape_str(cols.shape)} of {cols.dtype}"
        raise ValueError(msg)
    k = window[0][0] * window[0][1]
    if cols.shape[1] % k:
        msg = f"fold: `input` dimension 1 must be divisible by kH*kW={k}, got shape {shape_str(cols.shape)}"
        raise ValueError(msg)
    shape = (cols.shape[0], cols.shape[1] // k, *size)
    h, w = spatial_out("fold", shape, window[0], window[1], window[2], window[3], ceil_mode=False)
    if cols.shape[2] != h * w:
        msg = f"fold: `input` must have {h * w} blocks (dimension 2) for output_size={size}, got shape {shape_str(cols.shape)}"
        raise ValueError(msg)
    return Fold.apply(cols, shape=shape, window=window)


def _check_nchw(fn: str, x: Tensor) -> None:
    if x.ndim != 4:
        msg = f"{fn}: `input` must be 4-D (N, C, H, W), got shape {shape_str(x.shape)}"
        raise ValueError(msg)
    if x.dtype.kind != "f":
        msg = f"{fn}: `input` must be a float tensor, got dtype {x.dtype}"
        raise TypeError(msg)


def _separable(x: Tensor, rows: np.ndarray, cols: np.ndarray) -> Tensor:
    """``rows @ x @ cols^T`` on every plane of an NCHW tensor."""
    dt = x.dtype
    return matmul(
        matmul(Tensor(rows.astype(dt)), x), Tensor(np.ascontiguousarray(cols.T, dtype=dt))
    )


def _resample_matrix(
    n_in: int, n_out: int, mode: str, align: bool, scale: float | None
) -> np.ndarray:
    """The ``(n_out, n_in)`` matrix of PyTorch's 1-D nearest / linear resampling."""
    m = np.zeros((n_out, n_in))
    dst = np.arange(n_out, dtype=np.float64)
    if mode == "nearest":
        ratio = n_in / n_out if scale is None else 1.0 / scale
        src = np.minimum(np.floor(dst * ratio).astype(np.int64), n_in - 1)
        m[np.arange(n_out), src] = 1.0
        return m
    if align:
        pos = dst * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
    else:
        ratio = n_in / n_out if scale is None else 1.0 / scale
        pos = np.maximum((dst + 0.5) * ratio - 0.5, 0.0)
    i0 = np.minimum(np.floor(pos).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = pos - i0
    np.add.at(m, (np.arange(n_out), i0), 1.0 - lam)
    np.add.at(m, (np.arange(n_out), i1), lam)
    return m


def interpolate(
    input: Any,
    size: int | tuple[int, int] | None = None,
    scale_factor: float | tuple[float, float] | None = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
) -> Tensor:
    """Resize an NCHW batch (PyTorch's ``F.interpolate``, modes "nearest" and "bilinear").

    Exactly one of ``size`` (output ``(H, W)``) and ``scale_factor`` (output
    ``floor(H * s)``) is given. With ``scale_factor`` the source coordinate is
    ``dst / s`` unless ``recompute_scale_factor`` (then ``dst * H / H_out``), as in
    PyTorch. ``align_corners`` (bilinear only) maps corner pixel centres onto each other.
    """
    fn = "interpolate"
    x = as_tensor(input)
    _check_nchw(fn, x)
    if mode not in ("nearest", "bilinear"):
        msg = f"{fn}: `mode` must be 'nearest' or 'bilinear', got {mode!r}"
        raise ValueError(msg)
    if align_corners is not None and mode == "nearest":
        msg = f"{fn}: `align_corners` only applies to mode 'bilinear', got align_corners={align_corners} with mode 'nearest'"
        raise ValueError(msg)
    if (size is None) == (scale_factor is None):
        msg = f"{fn}: exactly one of `size` and `scale_factor` must be given, got size={size!r}, scale_factor={scale_factor!r}"
        raise ValueError(msg)
    h, w = x.shape[2], x.shape[3]
    scales: tuple[float | None, float | None] = (None, None)
    if size is not None:
        out = pair(size, "size", fn, minimum=1)
    else:
        sf: Any = (
            scale_factor if isinstance(scale_factor, tuple | list) else (scale_factor, scale_factor)
        )
        if len(sf) != 2 or not all(
            isinstance(s, int | float) and not isinstance(s, bool) and s > 0 for s in sf
        ):
            msg = f"{fn}: `scale_factor` must be a positive number or pair, got {scale_factor!r}"
            raise ValueError(msg)
        out = (math.floor(h * sf[0]), math.floor(w * sf[1]))
        if min(out) < 1:
            msg = f"{fn}: `scale_factor` {scale_factor!r} gives an empty output for input of shape {shape_str(x.shape)}"
            raise ValueError(msg)
        if not recompute_scale_factor:
            scales = (float(sf[0]), float(sf[1]))
    align = bool(align_corners)
    rows = _resample_matrix(h, out[0], mode, align, scales[0])
    cols = _resample_matrix(w, out[1], mode, align, scales[1])
    return _separable(x, rows, cols)


def _adaptive_size(fn: str, output_size: Any, h: int, w: int) -> tuple[int, int]:
    sizes = output_size if isinstance(output_size, tuple | list) else (output_size, output_size)
    if len(sizes) != 2:
        msg = f"{fn}: `output_size` must be an int or a pair (None keeps the input size), got {output_size!r}"
        raise ValueError(msg)
    out = [h if sizes[0] is None else sizes[0], w if sizes[1] is None else sizes[1]]
    return pair(tuple(out), "output_size", fn, minimum=1)


def _bins(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """PyTorch's adaptive windows: start = floor(i * n_in / n_out), end = ceil((i+1) * n_in / n_out)."""
    i = np.arange(n_out)
    return (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)


def adaptive_avg_pool2d(input: Any, output_size: int | tuple[int | None, int | None]) -> Tensor:
    """Average over PyTorch's adaptive windows to ``(N, C, *output_size)``."""
    fn = "adaptive_avg_pool2d"
    x = as_tensor(input)
    _check_nchw(fn, x)
    out = _adaptive_size(fn, output_size, x.shape[2], x.shape[3])
    mats = []
    for n_in, n_out in zip(x.shape[2:], out, strict=True):
        start, end = _bins(n_in, n_out)
        idx = np.arange(n_in)
        inside = (idx >= start[:, None]) & (idx < end[:, None])
        mats.append(inside / (end - start)[:, None])
    return _separable(x, mats[0], mats[1])


def adaptive_max_pool2d(
    input: Any, output_size: int | tuple[int | None, int | None], return_indices: bool = False
) -> Any:
    """Max over PyTorch's adaptive windows; with ``return_indices`` also the int64 flat
    offsets ``h * W + w`` of the maxima in each plane."""
    fn = "adaptive_max_pool2d"
    x = as_tensor(input)
    _check_nchw(fn, x)
    n, c, h, w = x.shape
    out = _adaptive_size(fn, output_size, h, w)
    if h == 0 or w == 0:
        msg = f"{fn}: `input` must have non-empty planes, got shape {shape_str(x.shape)}"
        raise ValueError(msg)
    taps = []
    for n_in, n_out in zip((h, w), out, strict=True):
        start, end = _bins(n_in, n_out)
        k = int((end - start).max())
        # window taps, the last one repeated for shorter windows (a repeat cannot win)
        taps.append(np.minimum(start[:, None] + np.arange(k), (end - 1)[:, None]))
    a = x.numpy()
    rows = a[:, :, taps[0], :]  # (N, C, Ho, kh, W)
    r_arg = np.argmax(rows, axis=3)  # (N, C, Ho, W): first maximum down each column
    r_idx = taps[0][np.arange(out[0])[:, None], r_arg]  # input row of that maximum
    r_max = np.take_along_axis(rows, r_arg[:, :, :, None, :], axis=3)[:, :, :, 0, :]
    cols = r_max[:, :, :, taps[1]]  # (N, C, Ho, Wo, kw)
    c_arg = np.argmax(cols, axis=4)
    c_idx = taps[1][np.arange(out[1])[None, :], c_arg]  # (N, C, Ho, Wo) input column
    row_at = np.take_along_axis(r_idx, c_idx.reshape(n, c, out[0], -1), axis=3)
    flat = (row_at * w + c_idx).astype(np.int64)
    y = take_along_dim(x.reshape(n, c, h * w), Tensor(flat.reshape(n, c, -1)), 2)
    y = y.reshape(n, c, out[0], out[1])
    return (y, Tensor(flat)) if return_indices else y
