"""LSTM training-step benchmark (forward + backward through time), issue 7's workload."""

from __future__ import annotations

import numpy as np
from harness import Case, torch_or_none

import dlx
from dlx import _core, nn, reference


def cases(size: str):
    torch = torch_or_none()
    rng = np.random.default_rng(0)
    # issue 7: sequence 50, batch 64, hidden 256; "small" keeps the shape but a shorter sequence
    t = 50 if size == "full" else 10
    n, i, h = 64, 32, 256
    x = rng.standard_normal((t, n, i), dtype=np.float32)
    gy = rng.standard_normal((t, n, h), dtype=np.float32)
    dlx.manual_seed(0)
    m = nn.LSTM(i, h)
    w = [p.data for p in m.parameters()]
    xt = dlx.tensor(x, requires_grad=True)

    def dlx_step():
        y, _ = m(xt)
        y.backward(gy)

    def kernel_step():
        y, _, _, ws = _core.rnn_forward("lstm", x, *w)
        _core.rnn_backward("lstm", gy, None, None, x, w[0], w[1], None, None, y, ws)

    def ref_step():
        y, _, _, ws = reference.rnn_forward("lstm", x, *w)
        reference.rnn_backward("lstm", gy, None, None, x, w[0], w[1], None, None, y, ws)

    impls = {"dlx": dlx_step, "dlx-kernel": kernel_step, "numpy": ref_step}
    if torch:
        tm = torch.nn.LSTM(i, h)
        tx = torch.from_numpy(x).requires_grad_()
        tgy = torch.from_numpy(gy)

        def torch_step():
            y, _ = tm(tx)
            y.backward(tgy)

        impls["torch"] = torch_step
    flops = 3 * 2.0 * t * n * 4 * h * (i + h)  # forward GEMMs x 3 (forward + two backward)
    yield Case(f"lstm T={t} N={n} I={i} H={h} fwd+bwd", impls, work=(flops, "FLOP"))

    # GRU, same shape: the other gated cell
    dlx.manual_seed(0)
    g = nn.GRU(i, h)

    def gru_step():
        y, _ = g(xt)
        y.backward(gy)

    impls = {"dlx": gru_step}
    if torch:
        tg = torch.nn.GRU(i, h)

        def torch_gru():
            y, _ = tg(tx)
            y.backward(tgy)

        impls["torch"] = torch_gru
    yield Case(f"gru T={t} N={n} I={i} H={h} fwd+bwd", impls, work=(flops * 0.75, "FLOP"))
