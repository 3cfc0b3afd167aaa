"""GEMM and dense-layer benchmarks."""

from __future__ import annotations

import numpy as np
from harness import Case, torch_or_none

import dlx
from dlx import _core, reference


def _against_fma_peak(case: Case) -> None:
    """Notes dlx's sgemm rate as a share of the FMA peak of the ISA level in use, measured
    by the FMA microbenchmark (csrc/fma_peak.h) with the same thread count, after timing."""
    peak = _core._fma_peak_gflops(dlx.get_num_threads(), 0.3)
    if peak <= 0 or "dlx" not in case.results or case.work is None:
        return
    gflops = case.work[0] / case.results["dlx"] / 1e9
    level = dlx.cpu_info()["capability"]
    case.extra["dlx"] = f"{gflops / peak:.0%} of the {level} FMA peak ({peak:.0f} GFLOP/s)"


def cases(size: str):
    torch = torch_or_none()
    rng = np.random.default_rng(0)
    n = 2048 if size == "full" else 512
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty_like(a)
    impls = {"dlx": lambda: _core.gemm(a, b, out=c), "numpy": lambda: np.matmul(a, b, out=c)}
    if torch:
        ta, tb, tc = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(c)
        impls["torch"] = lambda: torch.matmul(ta, tb, out=tc)
    yield Case(f"sgemm {n}^3", impls, work=(2.0 * n**3, "FLOP"), finalize=_against_fma_peak)

    x = rng.standard_normal((128, 784), dtype=np.float32)
    w = rng.standard_normal((256, 784), dtype=np.float32)
    bias = rng.standard_normal(256, dtype=np.float32)
    gy = rng.standard_normal((128, 256), dtype=np.float32)

    def dlx_fb():
        _core.linear_forward(x, w, bias)
        _core.linear_backward(gy, x, w)

    def ref_fb():
        reference.linear_forward(x, w, bias)
        reference.linear_backward(gy, x, w)

    impls = {"dlx": dlx_fb, "numpy": ref_fb}
    if torch:
        tx = torch.from_numpy(x).requires_grad_()
        tw = torch.from_numpy(w).requires_grad_()
        tbias = torch.from_numpy(bias).requires_grad_()
        tgy = torch.from_numpy(gy)

        def torch_fb():
            y = torch.nn.functional.linear(tx, tw, tbias)
            torch.autograd.grad(y, (tx, tw, tbias), tgy)

        impls["torch"] = torch_fb
    yield Case("linear 128x784->256 fwd+bwd", impls, work=(3 * 2.0 * 128 * 784 * 256, "FLOP"))
