"""Layer norm and group norm forward + backward, and the embedding weight gradient."""

from __future__ import annotations

import numpy as np
from harness import Case, torch_or_none

from dlx import _core


def _np_layer_norm_fb(x, w, b, gy, eps=1e-5):
    """NumPy reference: forward, then the three gradients."""
    mu = x.mean(-1, keepdims=True)
    rstd = 1.0 / np.sqrt(x.var(-1, keepdims=True) + eps)
    xhat = (x - mu) * rstd
    _ = xhat * w + b
    g = gy * w
    gx = rstd * (g - g.mean(-1, keepdims=True) - xhat * (g * xhat).mean(-1, keepdims=True))
    return gx, (gy * xhat).sum(0), gy.sum(0)


def _layer_norm_case(rows, n, torch, rng):
    x = rng.standard_normal((rows, n), dtype=np.float32)
    gy = rng.standard_normal((rows, n), dtype=np.float32)
    w = rng.standard_normal(n, dtype=np.float32)
    b = rng.standard_normal(n, dtype=np.float32)

    def dlx_fb():
        _, mean, rstd = _core.layer_norm_forward(x, 1, w, b)
        _core.layer_norm_backward(gy, x, 1, w, mean, rstd)

    impls = {"dlx": dlx_fb, "numpy": lambda: _np_layer_norm_fb(x, w, b, gy)}
    if torch:
        tx = torch.from_numpy(x).requires_grad_()
        tw = torch.from_numpy(w).requires_grad_()
        tb = torch.from_numpy(b).requires_grad_()
        tgy = torch.from_numpy(gy)

        def torch_fb():
            y = torch.nn.functional.layer_norm(tx, (n,), tw, tb)
            torch.autograd.grad(y, (tx, tw, tb), tgy)

        impls["torch"] = torch_fb
    return Case(f"layer_norm {rows}x{n} fwd+bwd", impls)


def _group_norm_case(shape, groups, torch, rng):
    c = shape[1]
    x = rng.standard_normal(shape, dtype=np.float32)
    gy = rng.standard_normal(shape, dtype=np.float32)
    w = rng.standard_normal(c, dtype=np.float32)
    b = rng.standard_normal(c, dtype=np.float32)

    def dlx_fb():
        _, mean, rstd = _core.group_norm_forward(x, groups, w, b)
        _core.group_norm_backward(gy, x, groups, w, mean, rstd)

    impls = {"dlx": dlx_fb}
    if torch:
        tx = torch.from_numpy(x).requires_grad_()
        tw = torch.from_numpy(w).requires_grad_()
        tb = torch.from_numpy(b).requires_grad_()
        tgy = torch.from_numpy(gy)

        def torch_fb():
            y = torch.nn.functional.group_norm(tx, groups, tw, tb)
            torch.autograd.grad(y, (tx, tw, tb), tgy)

        impls["torch"] = torch_fb
    dims = "x".join(map(str, shape))
    return Case(f"group_norm {dims} g={groups} fwd+bwd", impls)


def _embedding_backward_case(vocab, dim, tokens, torch, rng):
    idx = rng.integers(0, vocab, tokens)
    gy = rng.standard_normal((tokens, dim), dtype=np.float32)

    def np_bwd():
        gw = np.zeros((vocab, dim), np.float32)
        np.add.at(gw, idx, gy)
        return gw

    impls = {
        "dlx": lambda: _core.embedding_backward(gy, idx, vocab),
        "numpy": np_bwd,
    }
    if torch:
        ti = torch.from_numpy(idx)
        tgy = torch.from_numpy(gy)

        def torch_bwd():
            torch.ops.aten.embedding_dense_backward(tgy, ti, vocab, -1, False)

        impls["torch"] = torch_bwd
    return Case(f"embedding backward v={vocab} d={dim} tokens={tokens}", impls)


def cases(size: str):
    torch = torch_or_none()
    rng = np.random.default_rng(0)
    full = size == "full"
    yield _layer_norm_case(4096 if full else 512, 512, torch, rng)
    yield _layer_norm_case(256 if full else 64, 4096, torch, rng)
    yield _group_norm_case((32 if full else 8, 64, 16, 16), 8, torch, rng)
    yield _embedding_backward_case(30000, 128, 8192 if full else 2048, torch, rng)
    yield _embedding_backward_case(1000, 64, 32768 if full else 4096, torch, rng)
