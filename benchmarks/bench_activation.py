"""Activation benchmarks: elementwise forward + backward on a large float32 array."""

from __future__ import annotations

import numpy as np
from harness import Case, torch_or_none

from dlx import _core, reference

# name, torch function, whether the backward takes the forward output instead of the input
OPS = [("relu", "relu", False), ("gelu", "gelu", False), ("sigmoid", "sigmoid", True)]


def cases(size: str):
    torch = torch_or_none()
    rng = np.random.default_rng(0)
    n = 4 * 2**20 if size == "full" else 2**20
    x = rng.standard_normal(n, dtype=np.float32) * 3
    gy = rng.standard_normal(n, dtype=np.float32)
    label = f"{n // 2**20}M"
    for name, torch_name, uses_output in OPS:
        impls = {}
        for lib, mod in (("dlx", _core), ("numpy", reference)):
            fwd = getattr(mod, f"{name}_forward")
            bwd = getattr(mod, f"{name}_backward")

            def fb(fwd=fwd, bwd=bwd, uses_output=uses_output):
                y = fwd(x)
                bwd(gy, y if uses_output else x)

            impls[lib] = fb
        if torch:
            tfn = getattr(torch.nn.functional, torch_name, None) or getattr(torch, torch_name)
            tx = torch.from_numpy(x).requires_grad_()
            tgy = torch.from_numpy(gy)

            def torch_fb(tfn=tfn, tx=tx, tgy=tgy):
                y = tfn(tx)
                torch.autograd.grad(y, tx, tgy)

            impls["torch"] = torch_fb
        yield Case(f"{name} fwd+bwd {label} f32", impls, work=(n, "elem"))
