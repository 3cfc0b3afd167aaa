"""Dropout benchmarks: forward (mask + scale) and forward + backward on 1M floats."""

from __future__ import annotations

import numpy as np
from harness import Case, torch_or_none

from dlx import _core, reference


def cases(size: str):
    torch = torch_or_none()
    rng = np.random.default_rng(0)
    n = 1 << 20 if size == "full" else 1 << 18
    x = rng.standard_normal(n, dtype=np.float32)
    gy = rng.standard_normal(n, dtype=np.float32)
    p = 0.5

    impls = {
        "dlx": lambda: _core.dropout_forward(x, p, 1234),
        "numpy": lambda: reference.dropout_forward(x, p, 1234),
    }
    if torch:
        tx = torch.from_numpy(x)
        impls["torch"] = lambda: torch.nn.functional.dropout(tx, p, training=True)
    yield Case(f"dropout fwd {n} f32", impls, work=(n, "elem"))

    def dlx_fb():
        _, mask = _core.dropout_forward(x, p, 1234)
        _core.dropout_backward(gy, mask, p)

    def ref_fb():
        _, mask = reference.dropout_forward(x, p, 1234)
        reference.dropout_backward(gy, mask, p)

    impls = {"dlx": dlx_fb, "numpy": ref_fb}
    if torch:
        txg = torch.from_numpy(x).requires_grad_()
        tgy = torch.from_numpy(gy)

        def torch_fb():
            y = torch.nn.functional.dropout(txg, p, training=True)
            torch.autograd.grad(y, txg, tgy)

        impls["torch"] = torch_fb
    yield Case(f"dropout fwd+bwd {n} f32", impls, work=(n, "elem"))
