"""Fused optimiser kernels (dlx._core.*_step_) against the NumPy references."""

from __future__ import annotations

import numpy as np
import pytest
from dlx_testing import assert_close

import dlx
from dlx import _core, reference

# (kernel, names of its state arguments ("None" = left out), other keyword arguments).
# `step` is filled in per step where the kernel takes one.
CASES = [
    ("sgd_step_", [], {"lr": 0.1}),
    ("sgd_step_", [], {"lr": 0.1, "weight_decay": 0.05}),
    ("sgd_step_", ["momentum_buffer"], {"lr": 0.1, "momentum": 0.9}),
    (
        "sgd_step_",
        ["momentum_buffer"],
        {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.05},
    ),
    (
        "sgd_step_",
        ["momentum_buffer"],
        {"lr": 0.1, "momentum": 0.8, "nesterov": True, "weight_decay": 0.05},
    ),
    ("asgd_step_", ["ax"], {"eta": 0.05}),
    ("asgd_step_", ["ax"], {"eta": 0.05, "mu": 0.25, "lambd": 0.1, "weight_decay": 0.1}),
    ("rprop_step_", ["prev", "step_size"], {}),
    (
        "rprop_step_",
        ["prev", "step_size"],
        {"etaminus": 0.3, "etaplus": 1.5, "step_size_min": 5e-3, "step_size_max": 0.012},
    ),
    ("adagrad_step_", ["state_sum"], {"lr": 0.1}),
    (
        "adagrad_step_",
        ["state_sum"],
        {"lr": 0.1, "lr_decay": 0.1, "weight_decay": 0.05, "eps": 1e-3},
    ),
    ("rmsprop_step_", ["square_avg"], {"lr": 0.01}),
    ("rmsprop_step_", ["square_avg"], {"lr": 0.01, "alpha": 0.7, "weight_decay": 0.1}),
    ("rmsprop_step_", ["square_avg", "momentum_buffer"], {"lr": 0.01, "momentum": 0.9}),
    ("rmsprop_step_", ["square_avg", "None", "grad_avg"], {"lr": 0.01}),
    ("rmsprop_step_", ["square_avg", "None", "grad_avg"], {"lr": 0.01, "alpha": 0.3}),
    (
        "rmsprop_step_",
        ["square_avg", "momentum_buffer", "grad_avg"],
        {"lr": 0.01, "momentum": 0.5, "weight_decay": 0.1, "eps": 1e-3},
    ),
    ("adadelta_step_", ["square_avg", "acc_delta"], {}),
    ("adadelta_step_", ["square_avg", "acc_delta"], {"lr": 0.5, "rho": 0.5, "weight_decay": 0.1}),
    ("adam_step_", ["exp_avg", "exp_avg_sq"], {"lr": 0.01}),
    (
        "adam_step_",
        ["exp_avg", "exp_avg_sq"],
        {"lr": 0.01, "beta1": 0.2, "beta2": 0.5, "eps": 1e-3, "weight_decay": 0.1},
    ),
    (
        "adam_step_",
        ["exp_avg", "exp_avg_sq"],
        {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
    ),
    ("adam_step_", ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"], {"lr": 0.01}),
    (
        "adam_step_",
        ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
        {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
    ),
    ("adamax_step_", ["exp_avg", "exp_inf"], {}),
    (
        "adamax_step_",
        ["exp_avg", "exp_inf"],
        {"lr": 0.01, "beta1": 0.2, "beta2": 0.5, "eps": 1e-3, "weight_decay": 0.1},
    ),
    ("radam_step_", ["exp_avg", "exp_avg_sq"], {"lr": 0.01}),
    ("radam_step_", ["exp_avg", "exp_avg_sq"], {"lr": 0.01, "beta2": 0.5, "weight_decay": 0.1}),
    (
        "radam_step_",
        ["exp_avg", "exp_avg_sq"],
        {"lr": 0.01, "weight_decay": 0.1, "decoupled_weight_decay": True},
    ),
    ("nadam_step_", ["exp_avg", "exp_avg_sq"], {}),
    (
        "nadam_step_",
        ["exp_avg", "exp_avg_sq"],
        {"beta1": 0.5, "weight_decay": 0.1, "momentum_decay": 0.1},
    ),
    (
        "nadam_step_",
        ["exp_avg", "exp_avg_sq"],
        {"weight_decay": 0.1, "decoupled_weight_decay": True},
    ),
]
STEPPED = {"adagrad_step_", "adam_step_", "adamax_step_", "radam_step_", "nadam_step_"}
INITIAL = {"step_size": 0.01}  # state that does not start at zero (Rprop's starts at lr)
IDS = [f"{k}-{'-'.join(s)}-{'-'.join(f'{a}={b}' for a, b in kw.items())}" for k, s, kw in CASES]


def _run(fn, arrays, names, kw, steps):
    """Apply `fn` (kernel or reference) `steps` times to the arrays dict, in place."""
    mu_product = 1.0
    for t in range(1, steps + 1):
        extra = dict(kw)
        if fn.__name__ in STEPPED:
            extra["step"] = t
        if fn.__name__ == "sgd_step_" and names:
            extra["first_step"] = t == 1
        if fn.__name__ == "nadam_step_":
            beta1, decay = kw.get("beta1", 0.9), kw.get("momentum_decay", 4e-3)
            mu_product *= beta1 * (1.0 - 0.5 * 0.96 ** (t * decay))
            extra["mu_product"] = mu_product
        state = {n: arrays[n] for n in names if n != "None"}
        fn(arrays["param"], arrays["grad"][t - 1], **state, **extra)


@pytest.mark.parametrize(("kernel", "names", "kw"), CASES, ids=IDS)
@pytest.mark.parametrize("n", [0, 1, 7, 1000, 40_000])
def test_step_matches_reference(rng, dtype, kernel, names, kw, n):
    steps = 3
    arrays = {
        "param": rng.standard_normal(n).astype(dtype),
        "grad": rng.standard_normal((steps, n)).astype(dtype),
    }
    for name in names:
        if name != "None":
            arrays[name] = np.full(n, INITIAL.get(name, 0.0), dtype)
    ref = {k: a.copy() for k, a in arrays.items()}
    param = arrays["param"]
    _run(getattr(_core, kernel), arrays, names, kw, steps)
    _run(getattr(reference, kernel), ref, names, kw, steps)
    assert arrays["param"] is param  # updated in place, never replaced
    rtol, atol = (1e-5, 1e-6) if dtype == np.float32 else (1e-12, 1e-14)
    for name, a in arrays.items():
        # Cancellation leaves a few elements with only absolute accuracy: scale atol.
        scale = max(1.0, float(np.abs(ref[name]).max(initial=0)))
        assert_close(a, ref[name], rtol=rtol, atol=atol * scale)


@pytest.mark.parametrize(
    "kernel",
    ["adam_step_", "rmsprop_step_", "sgd_step_", "adamax_step_", "rprop_step_", "asgd_step_"],
)
def test_step_thread_count_independent(rng, kernel):
    n = 100_003
    p0 = rng.standard_normal(n).astype(np.float32)
    g = rng.standard_normal(n).astype(np.float32)
    results = []
    old = dlx.get_num_threads()
    try:
        for threads in (1, 2, 3):
            dlx.set_num_threads(threads)
            p, s1, s2 = p0.copy(), np.zeros(n, np.float32), np.zeros(n, np.float32)
            if kernel == "adam_step_":
                _core.adam_step_(p, g, s1, s2, 1, max_exp_avg_sq=np.zeros(n, np.float32))
            elif kernel == "rmsprop_step_":
                _core.rmsprop_step_(p, g, s1, s2, np.zeros(n, np.float32), momentum=0.9)
            elif kernel == "adamax_step_":
                _core.adamax_step_(p, g, s1, s2, 3, weight_decay=0.1)
            elif kernel == "rprop_step_":
                s1[:] = g[::-1]  # some sign flips
                s2[:] = 0.01
                _core.rprop_step_(p, g, s1, s2)
            elif kernel == "asgd_step_":
                _core.asgd_step_(p, g, s1, 0.05, 0.5, lambd=0.1, weight_decay=0.1)
            else:
                _core.sgd_step_(p, g, s1, momentum=0.9, first_step=True, weight_decay=0.1)
            results.append((p, s1, s2))
    finally:
        dlx.set_num_threads(old)
    for other in results[1:]:
        for a, b in zip(results[0], other, strict=True):
            np.testing.assert_array_equal(a, b)


def test_step_multidimensional_arrays(rng):
    p = rng.standard_normal((3, 4, 5))
    g = rng.standard_normal((3, 4, 5))
    m, v = np.zeros_like(p), np.zeros_like(p)
    ref = [p.copy(), g, m.copy(), v.copy()]
    _core.adam_step_(p, g, m, v, 1)
    reference.adam_step_(*ref, 1)
    assert_close(p, ref[0], rtol=1e-12)


def test_step_in_place_refuses_conversion():
    """A float64 state with float32 params must raise, not update a silent copy."""
    p = np.ones(4, np.float32)
    g = np.ones(4, np.float32)
    with pytest.raises(TypeError, match=r"adam_step_: `exp_avg` must have dtype float32"):
        _core.adam_step_(p, g, np.zeros(4), np.zeros(4, np.float32), 1)
    with pytest.raises(TypeError, match=r"`grad` must have dtype float32"):
        _core.sgd_step_(p, np.ones(4))
    np.testing.assert_array_equal(p, 1)  # nothing touched before the error
    with pytest.raises(ValueError, match=r"`exp_avg_sq` must be C-contiguous"):
        _core.adam_step_(p, g, np.zeros(4, np.float32), np.zeros(8, np.float32)[::2], 1)
    ro = np.zeros(4, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"`state_sum` must be writeable"):
        _core.adagrad_step_(p, g, ro, 1)
    with pytest.raises(TypeError, match=r"`param` must be a numpy.ndarray, got list"):
        _core.sgd_step_([1.0], g)
    with pytest.raises(TypeError, match=r"`param` must be float32 or float64, got int64"):
        _core.sgd_step_(np.ones(4, np.int64), g)
    # The same call with the right dtypes updates the caller's arrays.
    m, v = np.zeros(4, np.float32), np.zeros(4, np.float32)
    _core.adam_step_(p, g, m, v, 1, lr=0.5)
    np.testing.assert_allclose(p, 0.5, rtol=1e-6)
    np.testing.assert_allclose(m, 0.1, rtol=1e-6)


def test_step_errors():
    p, g = np.ones(4), np.ones(4)
    with pytest.raises(ValueError, match=r"`grad` must have shape \(4,\), got \(3,\)"):
        _core.sgd_step_(p, np.ones(3))
    with pytest.raises(ValueError, match=r"`exp_avg` must have shape \(4,\), got \(2, 2\)"):
        _core.adam_step_(p, g, np.zeros((2, 2)), np.zeros(4), 1)
    with pytest.raises(ValueError, match=r"adam_step_: `step` must be >= 1.*got 0"):
        _core.adam_step_(p, g, np.zeros(4), np.zeros(4), 0)
    with pytest.raises(ValueError, match=r"`beta1` must be in \[0, 1\), got 1"):
        _core.adam_step_(p, g, np.zeros(4), np.zeros(4), 1, beta1=1.0)
    with pytest.raises(ValueError, match=r"`beta2` must be in \[0, 1\)"):
        _core.radam_step_(p, g, np.zeros(4), np.zeros(4), 1, beta2=-0.1)
    with pytest.raises(ValueError, match=r"`mu_product` must be in \[0, 1\)"):
        _core.nadam_step_(p, g, np.zeros(4), np.zeros(4), 1, 1.0)
    with pytest.raises(ValueError, match=r"`momentum_buffer` must be given exactly when"):
        _core.sgd_step_(p, g, momentum=0.9)
    with pytest.raises(ValueError, match=r"`momentum_buffer` must be given exactly when"):
        _core.rmsprop_step_(p, g, np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match=r"`nesterov` needs a non-zero `momentum`"):
        _core.sgd_step_(p, g, nesterov=True)
    with pytest.raises(ValueError, match=r"adamax_step_: `step` must be >= 1.*got 0"):
        _core.adamax_step_(p, g, np.zeros(4), np.zeros(4), 0)
    with pytest.raises(ValueError, match=r"adamax_step_: `beta2` must be in \[0, 1\), got 1"):
        _core.adamax_step_(p, g, np.zeros(4), np.zeros(4), 1, beta2=1.0)
    with pytest.raises(ValueError, match=r"rprop_step_: `step_size` must have shape \(4,\)"):
        _core.rprop_step_(p, g, np.zeros(4), np.zeros(5))
    with pytest.raises(ValueError, match=r"asgd_step_: `ax` must have shape \(4,\)"):
        _core.asgd_step_(p, g, np.zeros(3), 0.1)
    with pytest.raises(TypeError, match=r"asgd_step_: `ax` must have dtype float64"):
        _core.asgd_step_(p, g, np.zeros(4, np.float32), 0.1)
    shared = np.zeros(4)
    with pytest.raises(ValueError, match=r"rprop_step_: `(prev|step_size)` must not share memory"):
        _core.rprop_step_(p, g, shared, shared)
