"""Autograd engine benchmarks: a small MLP step (kernel-bound) and a long chain of tiny ops
(per-op overhead of graph recording and the backward walk)."""

from __future__ import annotations

import numpy as np
from harness import Case, torch_or_none

import dlx
from dlx import nn


def cases(size: str):
    torch = torch_or_none()
    rng = np.random.default_rng(0)
    batch = 128 if size == "full" else 64
    x = rng.standard_normal((batch, 784), dtype=np.float32)
    y = rng.standard_normal((batch, 10), dtype=np.float32)
    model = nn.Sequential(nn.Linear(784, 256), nn.Linear(256, 10))
    w1, b1 = model[0].weight.data, model[0].bias.data
    w2, b2 = model[1].weight.data, model[1].bias.data
    xt, yt = dlx.from_numpy(x), dlx.from_numpy(y)

    def dlx_step():
        model.zero_grad()
        out = model[1](model[0](xt).relu())
        ((out - yt) ** 2).mean().backward()

    def numpy_step():  # the same step written by hand: the floor for graph overhead
        h = x @ w1.T + b1
        a = np.maximum(h, 0)
        out = a @ w2.T + b2
        g = 2 * (out - y) / out.size
        gw2, gb2 = g.T @ a, g.sum(0)
        ga = (g @ w2) * (h > 0)
        gw1, gb1 = ga.T @ x, ga.sum(0)
        return gw1, gb1, gw2, gb2

    impls = {"dlx": dlx_step, "numpy": numpy_step}
    if torch:
        tmodel = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.Linear(256, 10))
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)

        def torch_step():
            tmodel.zero_grad()
            out = tmodel[1](torch.relu(tmodel[0](tx)))
            ((out - ty) ** 2).mean().backward()

        impls["torch"] = torch_step
    flops = 3 * 2.0 * batch * (784 * 256 + 256 * 10)
    yield Case(f"MLP 784-256-10 step, batch {batch}", impls, work=(flops, "FLOP"))

    n_ops = 2000 if size == "full" else 500
    v = rng.standard_normal(16).astype(np.float32)
    leaf = dlx.tensor(v, requires_grad=True)

    def dlx_chain():
        leaf.grad = None
        t = leaf
        for _ in range(n_ops):
            t = t * 1.0001 + 0.001
        t.sum().backward()

    def numpy_chain():  # forward only, no graph: the floor
        t = v
        for _ in range(n_ops):
            t = t * np.float32(1.0001) + np.float32(0.001)
        return t

    impls = {"dlx": dlx_chain, "numpy": numpy_chain}
    if torch:
        tleaf = torch.tensor(v, requires_grad=True)

        def torch_chain():
            tleaf.grad = None
            t = tleaf
            for _ in range(n_ops):
                t = t * 1.0001 + 0.001
            t.sum().backward()

        impls["torch"] = torch_chain
    yield Case(f"chain of {2 * n_ops} tiny ops fwd+bwd", impls, note="per-op overhead")
    yield _tiny_mlp_case(torch, rng)
    yield _inplace_buffer_case(torch, rng, size)


def _inplace_buffer_case(torch, rng, size):
    """A loop that writes each step's state into a row of a buffer (``out[t] = h``,
    recorded in-place ops on views), then back-propagates through all of them."""
    steps = 32 if size == "full" else 16
    w0 = (rng.standard_normal((64, 64)) * 0.1).astype(np.float32)
    h0 = rng.standard_normal((16, 64), dtype=np.float32)
    w, h = dlx.tensor(w0, requires_grad=True), dlx.from_numpy(h0)

    def dlx_step():
        w.grad = None
        out = dlx.zeros(steps, 16, 64)
        s = h
        for t in range(steps):
            s = (s @ w).tanh()
            out[t] = s
        out.sum().backward()

    impls = {"dlx": dlx_step}
    if torch:
        tw, th = torch.tensor(w0, requires_grad=True), torch.from_numpy(h0)

        def torch_step():
            tw.grad = None
            out = torch.zeros(steps, 16, 64)
            s = th
            for t in range(steps):
                s = (s @ tw).tanh()
                out[t] = s
            out.sum().backward()

        impls["torch"] = torch_step
    return Case(f"buffer filled by {steps} recorded writes fwd+bwd", impls, note="CopySlices")


def _tiny_mlp_case(torch, rng):
    """A training step of an MLP 32-64-10 at batch 16 with SGD: all overhead, no FLOPs."""
    x = rng.standard_normal((16, 32), dtype=np.float32)
    y = rng.integers(0, 10, 16).astype(np.int64)
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = dlx.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = dlx.from_numpy(x), dlx.from_numpy(y)

    def dlx_step():
        opt.zero_grad()
        loss_fn(model(xt), yt).backward()
        opt.step()

    impls = {"dlx": dlx_step}
    if torch:
        tm = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
        tm.load_state_dict(
            {k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()}
        )
        topt = torch.optim.SGD(tm.parameters(), lr=0.01)
        tloss = torch.nn.CrossEntropyLoss()
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)

        def torch_step():
            topt.zero_grad()
            tloss(tm(tx), ty).backward()
            topt.step()

        impls["torch"] = torch_step
    return Case(
        "train tiny MLP 32-64-10 b16 (SGD)", impls, work=(16, "samples"), note="per-step overhead"
    )
