"""dlx.optim trajectories: 50 steps against torch.optim and the NumPy references, resumes."""

from __future__ import annotations

import numpy as np
import pytest
from optim_testing import (
    CONFIGS,
    IDS,
    Param,
    assert_trajectory_close,
    make_problem,
    run_dlx,
    skip_grad,
)

from dlx import optim, reference


@pytest.fixture
def torch_default_dtype(dtype):
    """torch with its default dtype set to `dtype` (NAdam keeps mu_product in it)."""
    torch = pytest.importorskip("torch")
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64 if dtype == np.float64 else torch.float32)
    yield torch
    torch.set_default_dtype(old)


@pytest.mark.parametrize(("name", "kw"), CONFIGS, ids=IDS)
def test_optimizer_matches_torch_50_steps(torch_default_dtype, dtype, name, kw):
    torch = torch_default_dtype
    init, grads = make_problem(dtype)
    params, _ = run_dlx(getattr(optim, name), kw, init, grads)
    tparams = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    topt = getattr(torch.optim, name)(tparams, **kw)
    for t, gs in enumerate(grads):
        for k, (p, g) in enumerate(zip(tparams, gs, strict=True)):
            p.grad = None if skip_grad(t, k) else torch.tensor(g)
        topt.step()
    assert_trajectory_close([p.data for p in params], [p.detach().numpy() for p in tparams], dtype)


def test_optimizer_param_groups_match_torch(torch_default_dtype, dtype):
    torch = torch_default_dtype
    init, grads = make_problem(dtype, steps=20)
    groups = [{"params": [0, 1]}, {"params": [2, 3], "lr": 0.05, "weight_decay": 0.0}]

    def build(lib, ps):
        return lib.Adam(
            [{**g, "params": [ps[i] for i in g["params"]]} for g in groups],
            lr=0.01,
            weight_decay=0.1,
        )

    params = [Param(a.copy()) for a in init]
    tparams = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt, topt = build(optim, params), build(torch.optim, tparams)
    for t, gs in enumerate(grads):
        for k, g in enumerate(gs):
            params[k].grad = g.copy()
            tparams[k].grad = torch.tensor(g)
        opt.step()
        topt.step()
        if t == 9:  # change a group's hyper-parameter mid-run, as a schedule would
            opt.param_groups[1]["lr"] = topt.param_groups[1]["lr"] = 0.001
    assert_trajectory_close([p.data for p in params], [p.detach().numpy() for p in tparams], dtype)


@pytest.mark.parametrize(("name", "kw"), CONFIGS, ids=IDS)
def test_optimizer_matches_reference_loop(dtype, name, kw):
    """Without torch: the flat fused path equals per-parameter NumPy reference steps."""
    init, grads = make_problem(dtype, steps=8)
    params, _ = run_dlx(getattr(optim, name), kw, init, grads)
    kw = {**dict(getattr(optim, name)([Param(np.zeros(1, dtype))]).defaults), **kw}
    expected = [a.copy() for a in init]
    for k, x in enumerate(expected):
        state: dict = {}
        step, mu_product = 0, 1.0
        for t, gs in enumerate(grads):
            if skip_grad(t, k):
                continue
            step += 1
            _reference_step(name, kw, x, gs[k], state, step, mu_product)
            if name == "NAdam":
                mu_product = state["mu_product"]
    assert_trajectory_close([p.data for p in params], expected, dtype)


def _reference_step(name, kw, x, g, state, step, mu_product):
    """One dlx.reference step of optimiser `name` on one parameter (state dict in place)."""

    def z():
        return np.zeros_like(x)

    if name == "SGD":
        if kw["momentum"] != 0:
            state.setdefault("momentum_buffer", z())
        reference.sgd_step_(
            x,
            g,
            state.get("momentum_buffer"),
            lr=kw["lr"],
            momentum=kw["momentum"],
            dampening=kw["dampening"],
            weight_decay=kw["weight_decay"],
            nesterov=kw["nesterov"],
            first_step=step == 1,
        )
    elif name == "Adagrad":
        s = state.setdefault("sum", np.full_like(x, kw["initial_accumulator_value"]))
        reference.adagrad_step_(
            x,
            g,
            s,
            step,
            lr=kw["lr"],
            lr_decay=kw["lr_decay"],
            weight_decay=kw["weight_decay"],
            eps=kw["eps"],
        )
    elif name == "RMSprop":
        sq = state.setdefault("square_avg", z())
        buf = state.setdefault("momentum_buffer", z()) if kw["momentum"] > 0 else None
        ga = state.setdefault("grad_avg", z()) if kw["centered"] else None
        reference.rmsprop_step_(
            x,
            g,
            sq,
            buf,
            ga,
            lr=kw["lr"],
            alpha=kw["alpha"],
            eps=kw["eps"],
            weight_decay=kw["weight_decay"],
            momentum=kw["momentum"],
        )
    elif name == "Adadelta":
        reference.adadelta_step_(
            x,
            g,
            state.setdefault("square_avg", z()),
            state.setdefault("acc_delta", z()),
            lr=kw["lr"],
            rho=kw["rho"],
            eps=kw["eps"],
            weight_decay=kw["weight_decay"],
        )
    else:
        m, v = state.setdefault("exp_avg", z()), state.setdefault("exp_avg_sq", z())
        common = {
            "lr": kw["lr"],
            "beta1": kw["betas"][0],
            "beta2": kw["betas"][1],
            "eps": kw["eps"],
            "weight_decay": kw["weight_decay"],
            "decoupled_weight_decay": kw["decoupled_weight_decay"],
        }
        if name in ("Adam", "AdamW"):
            vmax = state.setdefault("max_exp_avg_sq", z()) if kw["amsgrad"] else None
            reference.adam_step_(x, g, m, v, step, vmax, **common)
        elif name == "RAdam":
            reference.radam_step_(x, g, m, v, step, **common)
        else:
            beta1, decay = kw["betas"][0], kw["momentum_decay"]
            mu_product *= beta1 * (1.0 - 0.5 * 0.96 ** (step * decay))
            state["mu_product"] = mu_product
            reference.nadam_step_(x, g, m, v, step, mu_product, momentum_decay=decay, **common)


@pytest.mark.parametrize(("name", "kw"), CONFIGS, ids=IDS)
def test_state_dict_round_trip(dtype, name, kw):
    """Save after 10 steps, load into a fresh optimiser, continue: same as uninterrupted."""
    init, grads = make_problem(dtype, steps=20)
    full, _ = run_dlx(getattr(optim, name), kw, init, grads)
    first, opt = run_dlx(getattr(optim, name), kw, init, grads[:10])
    saved = opt.state_dict()
    for st in saved["state"].values():  # a copy, not a live view
        for val in st.values():
            if isinstance(val, np.ndarray):
                val += 1000
    saved = opt.state_dict()
    resumed = [Param(p.numpy().copy()) for p in first]
    opt2 = getattr(optim, name)(resumed, lr=0.123)  # hyper-parameters come from the dict
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    for t, gs in enumerate(grads[10:], start=10):
        for k, (p, g) in enumerate(zip(resumed, gs, strict=True)):
            p.grad = None if skip_grad(t, k) else g.copy()
        opt2.step()
    for a, b in zip(resumed, full, strict=True):
        np.testing.assert_array_equal(a.data, b.data)
