"""Optimiser step benchmarks: one fused pass over millions of float32 parameters.

An Adam step reads param, grad, exp_avg, exp_avg_sq and writes param, exp_avg,
exp_avg_sq: 7 x 4 bytes per float32 parameter, so it is memory-bandwidth bound and the
throughput column is the achieved memory bandwidth (GB/s = bytes read + written per
second). Adamax and Rprop move as many bytes; ASGD 5 x 4 (param, grad, ax read; param, ax
written). Those three are timed at the optimiser level against torch.optim's default
(single-tensor) and foreach paths on one flat parameter.
"""

from __future__ import annotations

import numpy as np
from harness import Case, torch_or_none

import dlx
from dlx import _core, optim, reference

BYTES_PER_PARAM = 7 * 4  # Adam, float32: 4 arrays read, 3 written


def _Param(data: np.ndarray, grad: np.ndarray) -> dlx.nn.Parameter:
    """A parameter around ``data`` (no copy) with ``grad`` set, for the optimiser case."""
    p = dlx.nn.Parameter(data)
    p.grad = grad
    return p


def _state(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """param, grad, exp_avg, exp_avg_sq for one implementation (touched before timing)."""
    return [
        rng.standard_normal(n, dtype=np.float32),
        rng.standard_normal(n, dtype=np.float32),
        np.zeros(n, np.float32),
        np.zeros(n, np.float32),
    ]


def cases(size: str):
    torch = torch_or_none()
    rng = np.random.default_rng(0)
    n = 10_000_000 if size == "full" else 1_000_000
    label = f"{n // 1_000_000}M"

    # Kernel level: one flat buffer.
    dlx_arrays, ref_arrays = _state(n, rng), _state(n, rng)
    impls = {
        "dlx": lambda: _core.adam_step_(*dlx_arrays, 10, lr=1e-3),
        "numpy": lambda: reference.adam_step_(*ref_arrays, 10, lr=1e-3),
    }
    if torch:
        for kind in ("fused", "foreach"):
            p, g, _, _ = _state(n, rng)
            tp = torch.from_numpy(p).requires_grad_()
            tp.grad = torch.from_numpy(g)
            topt = torch.optim.Adam([tp], lr=1e-3, **{kind: True})
            impls[f"torch_{kind}"] = topt.step
    yield Case(
        f"adam_step_ {label} float32",
        impls,
        work=(BYTES_PER_PARAM * n, "B"),
        note="memory bound: throughput = bytes read + written per second",
    )

    # Optimiser level: 10 parameters of n / 10 elements packed in one flat buffer.
    k = 10
    params = [_Param(*_state(n // k, rng)[:2]) for _ in range(k)]
    opt = optim.Adam(params, lr=1e-3)
    impls = {"dlx": opt.step}
    if torch:
        tparams = []
        for _ in range(k):
            p, g, _, _ = _state(n // k, rng)
            tp = torch.from_numpy(p).requires_grad_()
            tp.grad = torch.from_numpy(g)
            tparams.append(tp)
        impls["torch_fused"] = torch.optim.Adam(tparams, lr=1e-3, fused=True).step
    yield Case(
        f"optim.Adam.step {k} params x {n // k // 1000}k float32",
        impls,
        work=(BYTES_PER_PARAM * n, "B"),
    )
    yield from _rule_cases(size)


# name: (dlx / torch class, kwargs, bytes per float32 parameter)
_RULES = {
    "Adamax": ({"lr": 2e-3, "weight_decay": 1e-4}, 7 * 4),
    "Rprop": ({"lr": 1e-2}, 7 * 4),
    "ASGD": ({"lr": 1e-2, "t0": 0.0}, 5 * 4),  # t0=0: the averaging pass runs
}


def _rule_cases(size: str):
    """Adamax, Rprop, ASGD: optim.<Rule>.step on one parameter vs torch.optim."""
    torch = torch_or_none()
    rng = np.random.default_rng(1)
    n = 10_000_000 if size == "full" else 1_000_000
    for name, (kw, nbytes) in _RULES.items():
        p, g = _state(n, rng)[:2]
        opt = getattr(optim, name)([_Param(p, g)], **kw)
        opt.step()  # allocate the state before timing
        impls = {"dlx": opt.step}
        if torch:
            for kind in ("single", "foreach"):
                tp = torch.from_numpy(rng.standard_normal(n, dtype=np.float32)).requires_grad_()
                tp.grad = torch.from_numpy(rng.standard_normal(n, dtype=np.float32))
                topt = getattr(torch.optim, name)([tp], foreach=kind == "foreach", **kw)
                topt.step()
                impls[f"torch_{kind}"] = topt.step
        yield Case(
            f"optim.{name}.step {n // 1_000_000}M float32",
            impls,
            work=(nbytes * n, "B"),
            note="one fused OpenMP pass; memory bound",
        )
