"""NumPy references for 2-D max and average pooling (NCHW, PyTorch semantics)."""

from __future__ import annotations

import numpy as np


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _out_size(size, k, stride, pad, dilation, ceil_mode):
    """PyTorch's pooling output length, ceil_mode's last-window rule included."""
    num = size + 2 * pad - dilation * (k - 1) - 1
    out = (-(-num // stride) if ceil_mode else num // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return max(out, 0)


def _params(x_shape, kernel_size, stride, padding, dilation, ceil_mode):
    kh, kw = _pair(kernel_size)
    sh, sw = _pair(kernel_size if stride is None else stride)
    ph, pw = _pair(padding)
    dh, dw = _pair(dilation)
    h, w = x_shape[2], x_shape[3]
    ho = _out_size(h, kh, sh, ph, dh, ceil_mode)
    wo = _out_size(w, kw, sw, pw, dw, ceil_mode)
    return (kh, kw), (sh, sw), (ph, pw), (dh, dw), (ho, wo)


def _padded(x, pad, span, stride, out, fill):
    """x padded by `pad` on the top/left and enough on the bottom/right for every window."""
    (ph, pw), (eh, ew), (sh, sw), (ho, wo) = pad, span, stride, out
    need_h, need_w = (ho - 1) * sh + eh, (wo - 1) * sw + ew
    h, w = x.shape[2], x.shape[3]
    bottom, right = max(need_h - h - ph, 0), max(need_w - w - pw, 0)
    return np.pad(x, ((0, 0), (0, 0), (ph, bottom), (pw, right)), constant_values=fill)


def max_pool2d_forward(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """(output, indices); indices are flat offsets ``h * W + w`` within each plane.

    The first maximum in row-major window order wins, the last NaN wins over numbers (as
    in PyTorch); a window with no tap in the input gives -inf and index -1.
    """
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (ho, wo) = _params(
        x.shape, kernel_size, stride, padding, dilation, ceil_mode
    )
    h, w = x.shape[2], x.shape[3]
    span = ((kh - 1) * dh + 1, (kw - 1) * dw + 1)
    xp = _padded(x, (ph, pw), span, (sh, sw), (ho, wo), -np.inf)
    rows = np.arange(ho) * sh - ph  # top-left tap of each window, unpadded coordinates
    cols = np.arange(wo) * sw - pw
    taps, valid, flat = [], [], []
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dh, j * dw
            taps.append(
                xp[:, :, r0 : r0 + (ho - 1) * sh + 1 : sh, c0 : c0 + (wo - 1) * sw + 1 : sw]
            )
            r, c = rows + r0, cols + c0
            valid.append(((r >= 0) & (r < h))[:, None] & ((c >= 0) & (c < w))[None, :])
            flat.append(r[:, None] * w + c[None, :])
    win = np.stack(taps)  # (K, N, C, Ho, Wo)
    valid = np.stack(valid)[:, None, None]  # (K, 1, 1, Ho, Wo)
    flat = np.stack(flat)
    out = win.max(axis=0)  # propagates NaN
    nan = np.isnan(win)
    any_nan = nan.any(axis=0)
    k = win.shape[0]
    last_nan = k - 1 - np.argmax(nan[::-1], axis=0)
    first_max = np.argmax(valid & (win == out), axis=0)
    best = np.where(any_nan, last_nan, first_max)
    idx = np.take_along_axis(np.broadcast_to(flat[:, None, None], win.shape), best[None], 0)[0]
    idx = np.where(valid.any(axis=0), idx, -1)
    return out, idx.astype(np.int64)


def max_pool2d_backward(grad_output, indices, input_shape):
    """Scatter-add grad_output through indices (index -1 is skipped)."""
    n, c, h, w = input_shape
    planes = n * c
    base = (np.arange(planes) * (h * w)).reshape(n, c, 1, 1)
    keep = indices >= 0
    flat = (indices + base)[keep]
    gx = np.bincount(flat, weights=grad_output[keep], minlength=planes * h * w)
    return gx.astype(grad_output.dtype).reshape(input_shape)


def _avg_divisor(size, k, stride, pad, out, count_include_pad):
    """Per-output-position window length along one axis, and its tap range in the input."""
    start = np.arange(out) * stride - pad
    end = np.minimum(start + k, size + pad)
    padded = end - start
    inside = np.minimum(end, size) - np.maximum(start, 0)
    return padded if count_include_pad else inside


def avg_pool2d_forward(
    x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True
):
    """Mean over each window; the divisor follows PyTorch's count_include_pad rule."""
    (kh, kw), (sh, sw), (ph, pw), _, (ho, wo) = _params(
        x.shape, kernel_size, stride, padding, 1, ceil_mode
    )
    h, w = x.shape[2], x.shape[3]
    xp = _padded(x.astype(np.float64), (ph, pw), (kh, kw), (sh, sw), (ho, wo), 0.0)
    total = np.zeros((x.shape[0], x.shape[1], ho, wo))
    for i in range(kh):
        for j in range(kw):
            total += xp[:, :, i : i + (ho - 1) * sh + 1 : sh, j : j + (wo - 1) * sw + 1 : sw]
    div_h = _avg_divisor(h, kh, sh, ph, ho, count_include_pad)
    div_w = _avg_divisor(w, kw, sw, pw, wo, count_include_pad)
    return (total / (div_h[:, None] * div_w[None, :])).astype(x.dtype)


def avg_pool2d_backward(
    grad_output,
    input_shape,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
):
    """Each window's share grad / divisor added back to its taps inside the input."""
    (kh, kw), (sh, sw), (ph, pw), _, (ho, wo) = _params(
        input_shape, kernel_size, stride, padding, 1, ceil_mode
    )
    n, c, h, w = input_shape
    div_h = _avg_divisor(h, kh, sh, ph, ho, count_include_pad)
    div_w = _avg_divisor(w, kw, sw, pw, wo, count_include_pad)
    share = grad_output / (div_h[:, None] * div_w[None, :]).astype(grad_output.dtype)
    # Taps in the bottom/right padding of the window (end clipped at size + pad) are
    # dropped with the padding below, so the padded buffer only needs to hold them.
    hp, wp = max((ho - 1) * sh + kh, h + ph), max((wo - 1) * sw + kw, w + pw)
    gp = np.zeros((n, c, hp, wp), grad_output.dtype)
    for i in range(kh):
        for j in range(kw):
            gp[:, :, i : i + (ho - 1) * sh + 1 : sh, j : j + (wo - 1) * sw + 1 : sw] += share
    return gp[:, :, ph : ph + h, pw : pw + w].copy()
