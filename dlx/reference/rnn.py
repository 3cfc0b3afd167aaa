"""NumPy references for the recurrent kernels (a plain step loop over time).

Same names, arguments and returns as ``dlx._core.rnn_forward`` / ``rnn_backward``; the
workspace layouts are the kernels' (see ``csrc/rnn.h``): none for RNN, ``[i, f, g, o, c]``
for LSTM, ``[r, z, n, W_hn h + b_hn]`` for GRU.
"""

from __future__ import annotations

import numpy as np

_GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _order(steps, reverse):
    return range(steps - 1, -1, -1) if reverse else range(steps)


def rnn_forward(
    mode, input, weight_ih, weight_hh, bias_ih=None, bias_hh=None, hx=None, cx=None, reverse=False
):
    """One layer, one direction: ``(output, h_n, c_n or None, workspace)``."""
    x = input
    steps, n, _ = x.shape
    h_size = weight_hh.shape[1]
    dt = x.dtype
    h = np.zeros((n, h_size), dt) if hx is None else hx
    c = np.zeros((n, h_size), dt) if (mode == "lstm" and cx is None) else cx
    gi = x @ weight_ih.T
    if bias_ih is not None:
        gi = gi + bias_ih
    b_hh = np.zeros(weight_hh.shape[0], dt) if bias_hh is None else bias_hh
    width = {"lstm": 5 * h_size, "gru": 4 * h_size}.get(mode, 0)
    y = np.empty((steps, n, h_size), dt)
    ws = np.empty((steps, n, width), dt)
    for t in _order(steps, reverse):
        gh = h @ weight_hh.T + b_hh
        if mode == "lstm":
            a = gi[t] + gh
            i, f, o = (
                _sigmoid(a[:, :h_size]),
                _sigmoid(a[:, h_size : 2 * h_size]),
                _sigmoid(a[:, 3 * h_size :]),
            )
            g = np.tanh(a[:, 2 * h_size : 3 * h_size])
            c = f * c + i * g
            h = o * np.tanh(c)
            ws[t] = np.concatenate([i, f, g, o, c], axis=1)
        elif mode == "gru":
            r = _sigmoid(gi[t, :, :h_size] + gh[:, :h_size])
            z = _sigmoid(gi[t, :, h_size : 2 * h_size] + gh[:, h_size : 2 * h_size])
            lin = gh[:, 2 * h_size :]
            nn = np.tanh(gi[t, :, 2 * h_size :] + r * lin)
            h = (1 - z) * nn + z * h
            ws[t] = np.concatenate([r, z, nn, lin], axis=1)
        else:
            a = gi[t] + gh
            h = np.maximum(a, 0) if mode == "rnn_relu" else np.tanh(a)
        y[t] = h
    return y, h.copy(), (c.copy() if mode == "lstm" else None), ws


def rnn_backward(
    mode,
    grad_output,
    grad_h_n,
    grad_c_n,
    input,
    weight_ih,
    weight_hh,
    hx,
    cx,
    output,
    workspace,
    bias=True,
    reverse=False,
):
    """BPTT of :func:`rnn_forward`: ``(gx, ghx, gcx, gw_ih, gw_hh, gb_ih, gb_hh)``."""
    x, y, ws = input, output, workspace
    steps, n, _ = x.shape
    hs = weight_hh.shape[1]
    dt = x.dtype
    h0 = np.zeros((n, hs), dt) if hx is None else hx
    c0 = np.zeros((n, hs), dt) if (mode == "lstm" and cx is None) else cx
    dh = np.zeros((n, hs), dt) if grad_h_n is None else grad_h_n.copy()
    dc = np.zeros((n, hs), dt) if grad_c_n is None else grad_c_n.copy()
    dgi = np.zeros((steps, n, weight_hh.shape[0]), dt)
    dgh = np.zeros_like(dgi)
    hprev = np.empty_like(y)
    order = list(_order(steps, reverse))
    for k, t in enumerate(order):
        hprev[t] = h0 if k == 0 else y[order[k - 1]]
    for k in range(steps - 1, -1, -1):
        t = order[k]
        d = dh + grad_output[t]
        if mode == "lstm":
            i, f, g, o, c = np.split(ws[t], 5, axis=1)
            cp = c0 if k == 0 else ws[order[k - 1], :, 4 * hs :]
            tc = np.tanh(c)
            dct = dc + d * o * (1 - tc**2)
            dgi[t] = np.concatenate(
                [
                    dct * g * i * (1 - i),
                    dct * cp * f * (1 - f),
                    dct * i * (1 - g**2),
                    d * tc * o * (1 - o),
                ],
                axis=1,
            )
            dgh[t] = dgi[t]
            dc = dct * f
            dh = dgi[t] @ weight_hh
        elif mode == "gru":
            r, z, nn, lin = np.split(ws[t], 4, axis=1)
            da_n = d * (1 - z) * (1 - nn**2)
            da_z = d * (hprev[t] - nn) * z * (1 - z)
            da_r = da_n * lin * r * (1 - r)
            dgi[t] = np.concatenate([da_r, da_z, da_n], axis=1)
            dgh[t] = np.concatenate([da_r, da_z, da_n * r], axis=1)
            dh = d * z + dgh[t] @ weight_hh
        else:
            deriv = (y[t] > 0).astype(dt) if mode == "rnn_relu" else 1 - y[t] ** 2
            dgi[t] = d * deriv
            dgh[t] = dgi[t]
            dh = dgi[t] @ weight_hh
    gi2 = dgi.reshape(-1, dgi.shape[2])
    gh2 = dgh.reshape(-1, dgh.shape[2])
    gx = (gi2 @ weight_ih).reshape(x.shape)
    gw_ih = gi2.T @ x.reshape(-1, x.shape[2])
    gw_hh = gh2.T @ hprev.reshape(-1, hs)
    gb_ih = gi2.sum(axis=0) if bias else None
    gb_hh = gh2.sum(axis=0) if bias else None
    return gx, dh, (dc if mode == "lstm" else None), gw_ih, gw_hh, gb_ih, gb_hh
