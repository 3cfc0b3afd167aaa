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
    """torch with its default dtype set to `dtype` (NAdam keeps mu_product, ASGD eta and mu
    in it)."""
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
        state: dict = {"mu_product": 1.0}
        for t, gs in enumerate(grads):
            if skip_grad(t, k):
                continue
            state["step"] = state.get("step", 0) + 1
            _reference_step(name, kw, x, gs[k], state)
    assert_trajectory_close([p.data for p in params], expected, dtype)


def _reference_step(name, kw, x, g, state):
    """One dlx.reference step of optimiser `name` on one parameter (state dict in place;
    ``state["step"]`` already counts this step)."""
    step = state["step"]

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
    elif name == "Adamax":
        beta1, beta2 = kw["betas"]
        reference.adamax_step_(
            x,
            g,
            state.setdefault("exp_avg", z()),
            state.setdefault("exp_inf", z()),
            step,
            lr=kw["lr"],
            beta1=beta1,
            beta2=beta2,
            eps=kw["eps"],
            weight_decay=kw["weight_decay"],
        )
    elif name == "Rprop":
        (etaminus, etaplus), (lo, hi) = kw["etas"], kw["step_sizes"]
        reference.rprop_step_(
            x,
            g,
            state.setdefault("prev", z()),
            state.setdefault("step_size", np.full_like(x, kw["lr"])),
            etaminus=etaminus,
            etaplus=etaplus,
            step_size_min=lo,
            step_size_max=hi,
        )
    elif name == "ASGD":
        # eta and mu are PyTorch state tensors of the parameter's dtype.
        to_dtype = x.dtype.type
        lr, lambd = kw["lr"], kw["lambd"]
        eta, mu = state.get("eta", float(to_dtype(lr))), state.get("mu", 1.0)
        ax = state.setdefault("ax", z())
        reference.asgd_step_(x, g, ax, eta, mu, lambd=lambd, weight_decay=kw["weight_decay"])
        state["eta"] = float(to_dtype(lr / (1 + lambd * lr * step) ** kw["alpha"]))
        state["mu"] = float(to_dtype(1 / max(1, step - kw["t0"])))
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
            state["mu_product"] *= beta1 * (1.0 - 0.5 * 0.96 ** (step * decay))
            reference.nadam_step_(
                x, g, m, v, step, state["mu_product"], momentum_decay=decay, **common
            )


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


NEW_RULES = [(name, kw) for name, kw in CONFIGS if name in ("Adamax", "Rprop", "ASGD")]


@pytest.mark.parametrize(
    ("name", "kw"), NEW_RULES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(NEW_RULES)]
)
def test_state_matches_torch_and_loads_torch_state(torch_default_dtype, dtype, name, kw):
    """Adamax exp_inf, Rprop prev/step_size, ASGD eta/mu/ax: the state equals torch's after
    30 steps, and torch's own state_dict (tensors) resumes a dlx optimiser like torch."""
    torch = torch_default_dtype
    init, grads = make_problem(dtype, steps=40)
    params, opt = run_dlx(getattr(optim, name), kw, init, grads[:30])
    tparams = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    topt = getattr(torch.optim, name)(tparams, **kw)

    def torch_steps(ts):
        for t in ts:
            for k, (p, g) in enumerate(zip(tparams, grads[t], strict=True)):
                p.grad = None if skip_grad(t, k) else torch.tensor(g)
            topt.step()

    torch_steps(range(30))
    ours, theirs = opt.state_dict()["state"], topt.state_dict()["state"]
    assert ours.keys() == theirs.keys()
    for index, st in theirs.items():
        assert ours[index].keys() == st.keys()
        for key, val in st.items():
            expected = val.numpy() if key not in ("step",) else int(val)
            assert_trajectory_close([np.asarray(ours[index][key])], [np.asarray(expected)], dtype)
    if name == "ASGD":  # optimizer.state[p] views the live averaged parameter
        assert opt.state[params[0]]["ax"].shape == params[0].shape

    resumed = [Param(p.detach().numpy().copy()) for p in tparams]
    opt2 = getattr(optim, name)(resumed)
    opt2.load_state_dict(topt.state_dict())
    torch_steps(range(30, 40))
    for t in range(30, 40):
        for k, (p, g) in enumerate(zip(resumed, grads[t], strict=True)):
            p.grad = None if skip_grad(t, k) else g.copy()
        opt2.step()
    assert_trajectory_close([p.data for p in resumed], [p.detach().numpy() for p in tparams], dtype)


@pytest.mark.parametrize("name", ["Adamax", "Rprop", "ASGD"])
def test_non_finite_gradients_match_torch(torch_default_dtype, dtype, name):
    """NaN and inf in the gradient spread (or not) as in torch: Rprop's sign(NaN) = 0,
    Adamax's running maximum lets NaN win."""
    torch = torch_default_dtype
    rng = np.random.default_rng(5)
    init = rng.standard_normal(8).astype(dtype)
    grads = [rng.standard_normal(8).astype(dtype) for _ in range(4)]
    grads[1][[0, 3]] = np.nan
    grads[2][[1, 5]] = [np.inf, -np.inf]
    p = Param(init.copy())
    tp = torch.tensor(init.copy(), requires_grad=True)
    opt, topt = getattr(optim, name)([p]), getattr(torch.optim, name)([tp])
    for g in grads:
        p.grad = g.copy()
        tp.grad = torch.tensor(g)
        with np.errstate(invalid="ignore"):
            opt.step()
        topt.step()
        np.testing.assert_allclose(p.numpy(), tp.detach().numpy(), rtol=1e-5, equal_nan=True)
