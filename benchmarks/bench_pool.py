"""Pooling benchmarks: 2x2 max pooling (forward + backward) on CNN-sized activations."""

from __future__ import annotations

import numpy as np
from harness import Case, torch_or_none

from dlx import _core, reference


def _max_pool_case(shape, torch, rng):
    x = rng.standard_normal(shape, dtype=np.float32)
    gy = rng.standard_normal((shape[0], shape[1], shape[2] // 2, shape[3] // 2), dtype=np.float32)

    def dlx_fb():
        _, idx = _core.max_pool2d_forward(x, 2)
        _core.max_pool2d_backward(gy, idx, shape)

    def ref_fb():
        _, idx = reference.max_pool2d_forward(x, 2)
        reference.max_pool2d_backward(gy, idx, shape)

    impls = {"dlx": dlx_fb, "numpy": ref_fb}
    if torch:
        tx = torch.from_numpy(x).requires_grad_()
        tgy = torch.from_numpy(gy)

        def torch_fb():
            y = torch.nn.functional.max_pool2d(tx, 2)
            torch.autograd.grad(y, tx, tgy)

        impls["torch"] = torch_fb
    n, c, h, w = shape
    return Case(f"max_pool2d 2x2 {n}x{c}x{h}x{w} fwd+bwd", impls)


def _avg_pool_case(shape, torch, rng):
    x = rng.standard_normal(shape, dtype=np.float32)
    gy = rng.standard_normal((shape[0], shape[1], shape[2] // 2, shape[3] // 2), dtype=np.float32)

    def dlx_fb():
        _core.avg_pool2d_forward(x, 2)
        _core.avg_pool2d_backward(gy, shape, 2)

    def ref_fb():
        reference.avg_pool2d_forward(x, 2)
        reference.avg_pool2d_backward(gy, shape, 2)

    impls = {"dlx": dlx_fb, "numpy": ref_fb}
    if torch:
        tx = torch.from_numpy(x).requires_grad_()
        tgy = torch.from_numpy(gy)

        def torch_fb():
            y = torch.nn.functional.avg_pool2d(tx, 2)
            torch.autograd.grad(y, tx, tgy)

        impls["torch"] = torch_fb
    n, c, h, w = shape
    return Case(f"avg_pool2d 2x2 {n}x{c}x{h}x{w} fwd+bwd", impls)


def cases(size: str):
    torch = torch_or_none()
    rng = np.random.default_rng(0)
    n = 64 if size == "full" else 16
    yield _max_pool_case((n, 32, 28, 28), torch, rng)  # after MNIST conv1
    yield _max_pool_case((n, 64, 16, 16), torch, rng)  # after CIFAR conv2
    yield _avg_pool_case((n, 32, 28, 28), torch, rng)
