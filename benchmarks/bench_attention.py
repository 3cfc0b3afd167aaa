"""Transposed convolution and attention benchmarks (forward + backward through autograd).

ConvTranspose2d runs on conv2d's input-gradient kernel (its backward on conv2d forward and
weight gradient); attention is the composite of matmul, masked softmax and matmul.
"""

from __future__ import annotations

import numpy as np
from harness import Case, torch_or_none

import dlx
from dlx.nn import functional as F


def _conv_transpose_case(n, c, o, hw, torch, rng):
    x = rng.standard_normal((n, c, hw, hw), dtype=np.float32)
    w = rng.standard_normal((c, o, 4, 4), dtype=np.float32) * 0.1
    gy = rng.standard_normal((n, o, 2 * hw, 2 * hw), dtype=np.float32)
    xd, wd = dlx.tensor(x, requires_grad=True), dlx.tensor(w, requires_grad=True)
    gyd = dlx.tensor(gy)

    def dlx_fb():
        y = F.conv_transpose2d(xd, wd, stride=2, padding=1)
        dlx.autograd.grad(y, [xd, wd], gyd)

    impls = {"dlx": dlx_fb}
    if torch:
        tx = torch.from_numpy(x).requires_grad_()
        tw = torch.from_numpy(w).requires_grad_()
        tgy = torch.from_numpy(gy)

        def torch_fb():
            y = torch.nn.functional.conv_transpose2d(tx, tw, stride=2, padding=1)
            torch.autograd.grad(y, (tx, tw), tgy)

        impls["torch"] = torch_fb
    return Case(f"conv_transpose2d 4x4 s2 {n}x{c}x{hw}x{hw}->{o} fwd+bwd", impls)


def _attention_case(b, h, length, e, causal, torch, rng):
    q, k, v = (rng.standard_normal((b, h, length, e), dtype=np.float32) for _ in range(3))
    gy = rng.standard_normal((b, h, length, e), dtype=np.float32)
    leaves = [dlx.tensor(a, requires_grad=True) for a in (q, k, v)]
    gyd = dlx.tensor(gy)

    def dlx_fb():
        y = F.scaled_dot_product_attention(*leaves, is_causal=causal)
        dlx.autograd.grad(y, leaves, gyd)

    impls = {"dlx": dlx_fb}
    if torch:
        tl = [torch.from_numpy(a).requires_grad_() for a in (q, k, v)]
        tgy = torch.from_numpy(gy)

        def torch_fb():
            y = torch.nn.functional.scaled_dot_product_attention(*tl, is_causal=causal)
            torch.autograd.grad(y, tl, tgy)

        impls["torch"] = torch_fb
    kind = "causal" if causal else "full"
    return Case(f"sdpa {kind} {b}x{h}x{length}x{e} fwd+bwd", impls)


def cases(size: str):
    torch = torch_or_none()
    rng = np.random.default_rng(0)
    n = 32 if size == "full" else 8
    yield _conv_transpose_case(n, 32, 16, 16, torch, rng)  # a DCGAN-style upsampling block
    yield _attention_case(n // 4, 4, 128, 32, False, torch, rng)
    yield _attention_case(n // 4, 4, 128, 32, True, torch, rng)
