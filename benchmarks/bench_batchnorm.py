"""Batch-norm benchmarks: training-mode forward + backward on a CIFAR-sized activation."""

from __future__ import annotations

import numpy as np
from harness import Case, torch_or_none

from dlx import _core, reference


def _case(shape, torch, rng):
    c = shape[1]
    x = rng.standard_normal(shape, dtype=np.float32)
    gy = rng.standard_normal(shape, dtype=np.float32)
    w = rng.standard_normal(c, dtype=np.float32)
    b = rng.standard_normal(c, dtype=np.float32)
    rm, rv = np.zeros(c, np.float32), np.ones(c, np.float32)

    def dlx_fb():
        _, sm, si = _core.batch_norm_forward(x, w, b, rm, rv, True)
        _core.batch_norm_backward(gy, x, w, sm, si, True)

    def ref_fb():
        _, sm, si = reference.batch_norm_forward(x, w, b, rm, rv, True)
        reference.batch_norm_backward(gy, x, w, sm, si, True)

    impls = {"dlx": dlx_fb, "numpy": ref_fb}
    if torch:
        tx = torch.from_numpy(x).requires_grad_()
        tw = torch.from_numpy(w).requires_grad_()
        tb = torch.from_numpy(b).requires_grad_()
        trm, trv = torch.zeros(c), torch.ones(c)
        tgy = torch.from_numpy(gy)

        def torch_fb():
            y = torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, True)
            torch.autograd.grad(y, (tx, tw, tb), tgy)

        impls["torch"] = torch_fb
    dims = "x".join(map(str, shape))
    return Case(f"batch_norm train {dims} fwd+bwd", impls)


def cases(size: str):
    torch = torch_or_none()
    rng = np.random.default_rng(0)
    n = 64 if size == "full" else 16
    yield _case((n, 64, 16, 16), torch, rng)
    yield _case((n * 2, 512), torch, rng)  # BatchNorm1d after a dense layer
