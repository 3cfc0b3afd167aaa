"""Shared pieces of the optimiser tests: a parameter stand-in and a fixed problem."""

from __future__ import annotations

from typing import Any

import numpy as np

import dlx


def Param(data: np.ndarray) -> Any:
    """A parameter around ``data`` (no copy): ``p.grad = array`` and ``p.numpy()`` work."""
    return dlx.nn.Parameter(np.asarray(data))


SHAPES = [(3, 4), (5,), (), (2, 1, 3)]

# Every rule with its options; each runs 50 steps against torch.optim.
CONFIGS = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("Adagrad", {"lr": 0.1}),
    (
        "Adagrad",
        {
            "lr": 0.1,
            "lr_decay": 0.01,
            "weight_decay": 0.1,
            "initial_accumulator_value": 0.1,
            "eps": 1e-6,
        },
    ),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.3, "centered": True}),
    ("Adadelta", {}),
    ("Adadelta", {"lr": 0.5, "rho": 0.5, "weight_decay": 0.1}),
    ("Adam", {}),
    ("Adam", {"lr": 0.01, "betas": (0.3, 0.9), "eps": 1e-4, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.05}),
    ("RAdam", {"lr": 0.01}),
    ("RAdam", {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("NAdam", {}),
    ("NAdam", {"lr": 0.01, "weight_decay": 0.1, "momentum_decay": 0.01}),
    ("NAdam", {"weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("Adamax", {}),
    ("Adamax", {"lr": 0.01, "betas": (0.3, 0.9), "eps": 1e-3, "weight_decay": 0.1}),
    ("Rprop", {}),
    ("Rprop", {"lr": 0.1, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.5)}),
    ("ASGD", {}),
    ("ASGD", {"lr": 0.05, "lambd": 0.1, "alpha": 0.5, "t0": 5, "weight_decay": 0.1}),
]
IDS = [
    f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for name, kw in CONFIGS
]


def make_problem(dtype, steps=50, seed=1):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(steps)]
    return init, grads


def skip_grad(t: int, k: int) -> bool:
    """Parameter 1 has no grad on some steps, so per-parameter step counts diverge."""
    return k == 1 and t % 7 == 3


def run_dlx(opt_cls, kw, init, grads, skip=skip_grad):
    params = [Param(a.copy()) for a in init]
    opt = opt_cls(params, **kw)
    for t, gs in enumerate(grads):
        for k, (p, g) in enumerate(zip(params, gs, strict=True)):
            p.grad = None if skip(t, k) else g.copy()
        opt.step()
    return params, opt


def assert_trajectory_close(actual, expected, dtype):
    rtol, atol = (1e-5, 1e-6) if dtype == np.float32 else (1e-12, 1e-14)
    for a, b in zip(actual, expected, strict=True):
        scale = max(1.0, float(np.abs(b).max(initial=0)))
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol * scale)
