"""Softmax cross-entropy and log-softmax benchmarks on classifier-head shapes."""

from __future__ import annotations

import numpy as np
from harness import Case, torch_or_none

from dlx import _core, reference


def _cross_entropy_case(torch, rng, n, c):
    x = rng.standard_normal((n, c), dtype=np.float32) * 3
    t = rng.integers(0, c, n).astype(np.int64)
    one = np.array(1.0, np.float32)
    impls = {}
    for lib, mod in (("dlx", _core), ("numpy", reference)):

        def fb(mod=mod):
            _, lp = mod.cross_entropy_forward(x, t)
            mod.cross_entropy_backward(one, lp, t)

        impls[lib] = fb
    if torch:
        tx = torch.from_numpy(x).requires_grad_()
        tt = torch.from_numpy(t)

        def torch_fb():
            loss = torch.nn.functional.cross_entropy(tx, tt)
            torch.autograd.grad(loss, tx)

        impls["torch"] = torch_fb
    return Case(f"cross_entropy fwd+bwd {n}x{c} f32", impls, work=(n * c, "elem"))


def cases(size: str):
    torch = torch_or_none()
    rng = np.random.default_rng(0)
    yield _cross_entropy_case(torch, rng, 128, 1000)
    yield _cross_entropy_case(torch, rng, 512, 10)

    x = rng.standard_normal((128, 1000), dtype=np.float32) * 3
    gy = rng.standard_normal((128, 1000), dtype=np.float32)
    impls = {
        "dlx": lambda: _core.log_softmax_forward(x),
        "numpy": lambda: reference.log_softmax_forward(x),
    }
    if torch:
        tx = torch.from_numpy(x)
        impls["torch"] = lambda: torch.log_softmax(tx, -1)
    yield Case("log_softmax fwd 128x1000 f32", impls, work=(x.size, "elem"))

    impls = {}
    for lib, mod in (("dlx", _core), ("numpy", reference)):

        def fb(mod=mod):
            y = mod.log_softmax_forward(x)
            mod.log_softmax_backward(gy, y)

        impls[lib] = fb
    if torch:
        tx = torch.from_numpy(x).requires_grad_()
        tgy = torch.from_numpy(gy)

        def torch_fb():
            torch.autograd.grad(torch.log_softmax(tx, -1), tx, tgy)

        impls["torch"] = torch_fb
    yield Case("log_softmax fwd+bwd 128x1000 f32", impls, work=(x.size, "elem"))
