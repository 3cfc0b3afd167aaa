"""NumPy references for im2col / col2im and 2-D convolution (NCHW, PyTorch semantics)."""

from __future__ import annotations

import numpy as np


def _pair(v):
    """An int or a pair of ints as a 2-tuple."""
    return (v, v) if isinstance(v, int) else tuple(v)


def _out_size(size, k, stride, pad, dilation):
    return (size + 2 * pad - dilation * (k - 1) - 1) // stride + 1


def _geometry(input_shape, kernel_size, stride, padding, dilation):
    """(kh, kw), (sh, sw), (ph, pw), (dh, dw), (h_out, w_out) for an (N, C, H, W) input."""
    (kh, kw), (sh, sw) = _pair(kernel_size), _pair(stride)
    (ph, pw), (dh, dw) = _pair(padding), _pair(dilation)
    h_out = _out_size(input_shape[2], kh, sh, ph, dh)
    w_out = _out_size(input_shape[3], kw, sw, pw, dw)
    return (kh, kw), (sh, sw), (ph, pw), (dh, dw), (h_out, w_out)


def _window(i, j, geom):
    """The strided slices of the padded input that kernel offset (i, j) reads."""
    _, (sh, sw), _, (dh, dw), (h_out, w_out) = geom
    return (
        slice(i * dh, i * dh + sh * (h_out - 1) + 1, sh),
        slice(j * dw, j * dw + sw * (w_out - 1) + 1, sw),
    )


def im2col(x, kernel_size, stride=1, padding=0, dilation=1):
    """Unfold ``x`` (N, C, H, W) into columns (N, C*kh*kw, H_out*W_out)."""
    geom = _geometry(x.shape, kernel_size, stride, padding, dilation)
    (kh, kw), _, (ph, pw), _, (h_out, w_out) = geom
    n, c = x.shape[:2]
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = np.empty((n, c, kh, kw, h_out, w_out), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            hs, ws = _window(i, j, geom)
            cols[:, :, i, j] = xp[:, :, hs, ws]
    return cols.reshape(n, c * kh * kw, h_out * w_out)


def col2im(cols, input_shape, kernel_size, stride=1, padding=0, dilation=1):
    """Fold columns (N, C*kh*kw, H_out*W_out) into (N, C, H, W), summing overlaps."""
    geom = _geometry(input_shape, kernel_size, stride, padding, dilation)
    (kh, kw), _, (ph, pw), _, (h_out, w_out) = geom
    n, c, h, w = input_shape
    cols = cols.reshape(n, c, kh, kw, h_out, w_out)
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            hs, ws = _window(i, j, geom)
            xp[:, :, hs, ws] += cols[:, :, i, j]
    return xp[:, :, ph : ph + h, pw : pw + w].copy()


def conv2d_forward(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Convolution of ``x`` (N, C, H, W) with ``weight`` (O, C/groups, kh, kw) plus ``bias``."""
    n = x.shape[0]
    o, cg, kh, kw = weight.shape
    cols = im2col(x, (kh, kw), stride, padding, dilation)
    _, _, _, _, (h_out, w_out) = _geometry(x.shape, (kh, kw), stride, padding, dilation)
    cols = cols.reshape(n, groups, cg * kh * kw, h_out * w_out)
    wg = weight.reshape(groups, o // groups, cg * kh * kw)
    y = (wg @ cols).reshape(n, o, h_out, w_out)  # (1, G, Og, K) @ (N, G, K, L)
    return y if bias is None else y + bias.reshape(1, o, 1, 1)


def conv2d_backward(grad_output, x, weight, stride=1, padding=0, dilation=1, groups=1):
    """Gradients of :func:`conv2d_forward` with respect to input, weight and bias."""
    n = x.shape[0]
    o, cg, kh, kw = weight.shape
    k = cg * kh * kw
    length = grad_output.shape[2] * grad_output.shape[3]
    gy = grad_output.reshape(n, groups, o // groups, length)
    cols = im2col(x, (kh, kw), stride, padding, dilation).reshape(n, groups, k, length)
    # Sum over the batch as one GEMM per group: (G, Og, N*L) @ (G, N*L, K).
    gy_g = gy.transpose(1, 2, 0, 3).reshape(groups, o // groups, n * length)
    cols_g = cols.transpose(1, 0, 3, 2).reshape(groups, n * length, k)
    grad_weight = (gy_g @ cols_g).reshape(weight.shape)
    wg_t = weight.reshape(groups, o // groups, k).transpose(0, 2, 1)
    dcols = (wg_t @ gy).reshape(n, groups * k, length)  # (1, G, K, Og) @ (N, G, Og, L)
    grad_input = col2im(dcols, x.shape, (kh, kw), stride, padding, dilation)
    grad_bias = grad_output.sum(axis=(0, 2, 3))
    return grad_input, grad_weight.astype(x.dtype, copy=False), grad_bias
