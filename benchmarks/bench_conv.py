"""2-D convolution benchmarks: forward + backward on MNIST- and CIFAR-sized layers."""

from __future__ import annotations

import numpy as np
from harness import Case, torch_or_none

from dlx import _core, reference

# (name, n, c, h, w, o, k, padding); float32, stride 1
LAYERS = [
    ("mnist conv1 64x1x28x28->32 3x3", 64, 1, 28, 28, 32, 3, 1),
    ("cifar conv2 64x32x32x32->64 3x3", 64, 32, 32, 32, 64, 3, 1),
]
SMALL = {"mnist": 16, "cifar": 8}  # batch for size == "small"


def _layer_cases(torch, rng, name, n, c, h, w, o, k, pad):
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    wt = rng.standard_normal((o, c, k, k), dtype=np.float32) / np.float32(np.sqrt(c * k * k))
    b = rng.standard_normal(o, dtype=np.float32)
    gy = rng.standard_normal((n, o, h, w), dtype=np.float32)  # stride 1, 'same' padding
    flop = 2.0 * n * o * c * k * k * h * w

    def dlx_fb():
        _core.conv2d_forward(x, wt, b, padding=pad)
        _core.conv2d_backward(gy, x, wt, padding=pad)

    def ref_fb():
        reference.conv2d_forward(x, wt, b, padding=pad)
        reference.conv2d_backward(gy, x, wt, padding=pad)

    fwd = {
        "dlx": lambda: _core.conv2d_forward(x, wt, b, padding=pad),
        "numpy": lambda: reference.conv2d_forward(x, wt, b, padding=pad),
    }
    fb = {"dlx": dlx_fb, "numpy": ref_fb}
    if torch:
        tx = torch.from_numpy(x).requires_grad_()
        tw = torch.from_numpy(wt).requires_grad_()
        tb = torch.from_numpy(b).requires_grad_()
        tgy = torch.from_numpy(gy)

        def torch_fwd():
            with torch.no_grad():
                torch.nn.functional.conv2d(tx, tw, tb, padding=pad)

        def torch_fb():
            y = torch.nn.functional.conv2d(tx, tw, tb, padding=pad)
            torch.autograd.grad(y, (tx, tw, tb), tgy)

        fwd["torch"] = torch_fwd
        fb["torch"] = torch_fb
    yield Case(f"conv2d {name} fwd", fwd, work=(flop, "FLOP"))
    yield Case(
        f"conv2d {name} fwd+bwd",
        fb,
        work=(3 * flop, "FLOP"),
        note="backward computes input, weight and bias gradients",
    )


def cases(size: str):
    torch = torch_or_none()
    rng = np.random.default_rng(0)
    for name, n, c, h, w, o, k, pad in LAYERS:
        if size == "small":
            n = SMALL[name.split()[0]]
            name = name.replace("64x", f"{n}x", 1)
        yield from _layer_cases(torch, rng, name, n, c, h, w, o, k, pad)
