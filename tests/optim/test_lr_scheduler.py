"""Learning-rate schedules: PyTorch agreement, closed forms, state round trip, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from optim_testing import Param

from dlx import optim
from dlx.optim import lr_scheduler as sched


def _warmup(epoch):
    return min(1.0, (epoch + 1) / 5) * 0.9**epoch


def _shrink(epoch):
    return 0.95 if epoch % 3 else 0.8


# (scheduler, kwargs, optimiser, optimiser kwargs)
CONFIGS = [
    ("LambdaLR", {"lr_lambda": _warmup}, "SGD", {}),
    ("LambdaLR", {"lr_lambda": [_warmup, lambda e: 1 / (e + 1)]}, "Adam", {}),
    ("MultiplicativeLR", {"lr_lambda": _shrink}, "SGD", {}),
    ("MultiplicativeLR", {"lr_lambda": [_shrink, lambda e: 0.99]}, "Adam", {}),
    ("PolynomialLR", {}, "SGD", {}),
    ("PolynomialLR", {"total_iters": 30, "power": 2.5}, "Adam", {}),
    ("CosineAnnealingWarmRestarts", {"T_0": 7}, "SGD", {}),
    ("CyclicLR", {"base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4}, "SGD", {"momentum": 0.9}),
    (
        "CyclicLR",
        {
            "base_lr": [0.01, 0.02],
            "max_lr": 0.2,
            "step_size_up": 3,
            "step_size_down": 5,
            "mode": "triangular2",
        },
        "Adam",
        {},
    ),
    (
        "CyclicLR",
        {
            "base_lr": 0.001,
            "max_lr": 0.05,
            "step_size_up": 6,
            "mode": "exp_range",
            "gamma": 0.97,
            "cycle_momentum": False,
        },
        "Adam",
        {},
    ),
    (
        "CyclicLR",
        {
            "base_lr": 0.001,
            "max_lr": 0.05,
            "step_size_up": 2,
            "scale_fn": _shrink,
            "scale_mode": "iterations",
            "base_momentum": 0.5,
            "max_momentum": 0.95,
        },
        "SGD",
        {"momentum": 0.9},
    ),
    ("CosineAnnealingWarmRestarts", {"T_0": 3, "T_mult": 2, "eta_min": 0.002}, "Adam", {}),
    ("StepLR", {"step_size": 7, "gamma": 0.5}, "SGD", {}),
    ("MultiStepLR", {"milestones": [3, 10, 10, 30], "gamma": 0.3}, "SGD", {}),
    ("ExponentialLR", {"gamma": 0.93}, "SGD", {}),
    ("CosineAnnealingLR", {"T_max": 12, "eta_min": 0.001}, "SGD", {}),
    ("CosineAnnealingLR", {"T_max": 50}, "Adam", {}),
    ("LinearLR", {}, "SGD", {}),
    ("LinearLR", {"start_factor": 0.1, "end_factor": 0.8, "total_iters": 20}, "Adam", {}),
    ("OneCycleLR", {"max_lr": 0.5, "total_steps": 50}, "SGD", {"momentum": 0.9}),
    (
        "OneCycleLR",
        {
            "max_lr": [0.5, 0.2],
            "epochs": 5,
            "steps_per_epoch": 10,
            "anneal_strategy": "linear",
            "three_phase": True,
        },
        "Adam",
        {},
    ),
    (
        "OneCycleLR",
        {
            "max_lr": 0.1,
            "total_steps": 50,
            "cycle_momentum": False,
            "pct_start": 0.5,
            "div_factor": 10.0,
            "final_div_factor": 100.0,
        },
        "Adam",
        {},
    ),
]
IDS = [f"{s}-{o}-{i}" for i, (s, _, o, _) in enumerate(CONFIGS)]
STEPS = 50


def groups(lib, make_param):
    return [{"params": [make_param()]}, {"params": [make_param()], "lr": 0.05}]


@pytest.mark.parametrize(("name", "kw", "opt_name", "opt_kw"), CONFIGS, ids=IDS)
def test_scheduler_matches_torch(name, kw, opt_name, opt_kw):
    torch = pytest.importorskip("torch")
    opt = getattr(optim, opt_name)(groups(optim, lambda: Param(np.zeros(2))), lr=0.1, **opt_kw)
    topt = getattr(torch.optim, opt_name)(
        groups(torch.optim, lambda: torch.zeros(2, requires_grad=True)), lr=0.1, **opt_kw
    )
    s = getattr(sched, name)(opt, **kw)
    ts = getattr(torch.optim.lr_scheduler, name)(topt, **kw)
    for _ in range(STEPS - 1 if name == "OneCycleLR" else STEPS):
        assert s.get_last_lr() == ts.get_last_lr()  # the same formulas: equal to the bit
        for g, tg in zip(opt.param_groups, topt.param_groups, strict=True):
            assert g["lr"] == tg["lr"]
            if "betas" in g:
                assert tuple(g["betas"]) == tuple(tg["betas"])
            if "momentum" in g:
                assert g["momentum"] == tg["momentum"]
        opt.step()
        topt.step()
        s.step()
        ts.step()


def test_reduce_lr_on_plateau_matches_torch():
    torch = pytest.importorskip("torch")
    metrics = [5, 4, 4, 4, 4, 3.9999, 3.9, 3.9, 3.9, 3.9, 3.9, 3.9, 2, 2, 2, 2, 2, 2, 2] * 3
    for kw in (
        {"patience": 2},
        {"mode": "max", "factor": 0.5, "patience": 1, "cooldown": 2},
        {"threshold_mode": "abs", "threshold": 0.05, "patience": 0, "min_lr": [0.02, 0.0]},
        {"factor": 0.2, "patience": 1, "min_lr": 0.004, "eps": 1e-3},
    ):
        opt = optim.SGD(groups(optim, lambda: Param(np.zeros(2))), lr=0.1)
        topt = torch.optim.SGD(
            groups(torch.optim, lambda: torch.zeros(2, requires_grad=True)), lr=0.1
        )
        s = sched.ReduceLROnPlateau(opt, **kw)
        ts = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
        for m in metrics:
            s.step(m)
            ts.step(m)
            assert s.get_last_lr() == ts.get_last_lr(), kw
            assert s.num_bad_epochs == ts.num_bad_epochs


def test_schedules_closed_forms():
    """Without torch: the recursive updates follow the documented closed forms."""

    def lrs(make, steps):
        opt = optim.SGD([Param(np.zeros(1))], lr=0.1)
        s = make(opt)
        out = []
        for _ in range(steps):
            out.append(s.get_last_lr()[0])
            s.step()
        return out

    got = lrs(lambda o: sched.StepLR(o, 3, gamma=0.5), 10)
    np.testing.assert_allclose(got, [0.1 * 0.5 ** (e // 3) for e in range(10)], rtol=1e-15)
    got = lrs(lambda o: sched.MultiStepLR(o, [2, 5], gamma=0.1), 7)
    np.testing.assert_allclose(got, [0.1, 0.1, 0.01, 0.01, 0.01, 0.001, 0.001], rtol=1e-14)
    got = lrs(lambda o: sched.ExponentialLR(o, 0.9), 10)
    np.testing.assert_allclose(got, [0.1 * 0.9**e for e in range(10)], rtol=1e-14)
    got = lrs(lambda o: sched.CosineAnnealingLR(o, 10, eta_min=0.01), 11)
    np.testing.assert_allclose(
        got,
        [0.01 + 0.09 * (1 + math.cos(math.pi * e / 10)) / 2 for e in range(11)],
        rtol=1e-12,
        atol=1e-15,
    )
    got = lrs(lambda o: sched.LinearLR(o, start_factor=0.25, total_iters=4), 7)
    np.testing.assert_allclose(got, [0.025, 0.04375, 0.0625, 0.08125, 0.1, 0.1, 0.1], rtol=1e-14)
    got = lrs(
        lambda o: sched.OneCycleLR(
            o,
            max_lr=1.0,
            total_steps=10,
            pct_start=0.5,
            anneal_strategy="linear",
            cycle_momentum=False,
        ),
        10,
    )
    assert got[0] == pytest.approx(1.0 / 25)
    assert max(got) == pytest.approx(1.0)
    assert got[-1] == pytest.approx(1.0 / 25 / 1e4)


@pytest.mark.parametrize(("name", "kw", "opt_name", "opt_kw"), CONFIGS, ids=IDS)
def test_scheduler_state_dict_round_trip(name, kw, opt_name, opt_kw):
    def build():
        opt = getattr(optim, opt_name)(groups(optim, lambda: Param(np.zeros(2))), lr=0.1, **opt_kw)
        return opt, getattr(sched, name)(opt, **kw)

    opt, s = build()
    full = []
    for _ in range(20):
        s.step()
        full.append(s.get_last_lr())
    opt, s = build()
    for _ in range(10):
        s.step()
    opt_state, s_state = opt.state_dict(), s.state_dict()
    assert "optimizer" not in s_state
    opt2, s2 = build()
    opt2.load_state_dict(opt_state)
    s2.load_state_dict(s_state)
    resumed = []
    for _ in range(10):
        s2.step()
        resumed.append(s2.get_last_lr())
    assert resumed == full[10:]
    assert opt2.param_groups[0]["lr"] == full[-1][0]


def test_scheduler_errors():
    opt = optim.SGD([Param(np.zeros(1))], lr=0.1)
    with pytest.raises(TypeError, match=r"`optimizer` must be a dlx.optim.Optimizer, got list"):
        sched.StepLR([], 3)
    with pytest.raises(ValueError, match=r"`step_size` must be >= 1, got 0"):
        sched.StepLR(opt, 0)
    with pytest.raises(ValueError, match=r"`milestones` must be ints >= 0"):
        sched.MultiStepLR(opt, [2, -1])
    with pytest.raises(ValueError, match=r"`T_max` must be >= 1"):
        sched.CosineAnnealingLR(opt, 0)
    with pytest.raises(ValueError, match=r"`start_factor` must be in \(0, 1\]"):
        sched.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match=r"`end_factor` must be in \[0, 1\]"):
        sched.LinearLR(opt, end_factor=1.5)
    with pytest.raises(ValueError, match=r"give either `total_steps`"):
        sched.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match=r"`anneal_strategy` must be 'cos' or 'linear'"):
        sched.OneCycleLR(opt, max_lr=0.1, total_steps=5, anneal_strategy="exp")
    with pytest.raises(ValueError, match=r"`max_lr` must have one value per param group"):
        sched.OneCycleLR(opt, max_lr=[0.1, 0.2], total_steps=5)
    with pytest.raises(ValueError, match=r"`cycle_momentum` needs an optimiser with"):
        sched.OneCycleLR(optim.Adagrad([Param(np.zeros(1))]), max_lr=0.1, total_steps=5)
    one = sched.OneCycleLR(opt, max_lr=0.1, total_steps=2)
    one.step()
    one.step()  # PyTorch allows last_epoch == total_steps
    with pytest.raises(ValueError, match=r"stepped 3 times but `total_steps` is 2"):
        one.step()
    with pytest.raises(ValueError, match=r"`factor` must be in \[0, 1\), got 1.0"):
        sched.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match=r"`mode` must be 'min' or 'max'"):
        sched.ReduceLROnPlateau(opt, mode="up")
    with pytest.raises(ValueError, match=r"`patience` must be an int >= 0"):
        sched.ReduceLROnPlateau(opt, patience=-1)
    with pytest.raises(KeyError, match=r"has no `initial_lr`"):
        sched.StepLR(optim.SGD([Param(np.zeros(1))]), 3, last_epoch=4)


@pytest.mark.parametrize("kw", [{"T_0": 4}, {"T_0": 3, "T_mult": 2, "eta_min": 0.01}])
def test_warm_restarts_fractional_epochs_match_torch(kw):
    """step(epoch) with fractional epochs (per-batch stepping inside an epoch), and a jump."""
    torch = pytest.importorskip("torch")
    opt = optim.SGD(groups(optim, lambda: Param(np.zeros(2))), lr=0.1)
    topt = torch.optim.SGD(groups(torch.optim, lambda: torch.zeros(2, requires_grad=True)), lr=0.1)
    s = sched.CosineAnnealingWarmRestarts(opt, **kw)
    ts = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(topt, **kw)
    epochs = [e + i / 5 for e in range(12) for i in range(5)] + [40, 17.5, 0.25]
    for epoch in epochs:
        s.step(epoch)
        ts.step(epoch)
        assert s.get_last_lr() == ts.get_last_lr(), epoch
        assert (s.T_cur, s.T_i, s.last_epoch) == (ts.T_cur, ts.T_i, ts.last_epoch)
    with pytest.raises(ValueError, match=r"`epoch` must be >= 0, got -1"):
        s.step(-1)


def test_chained_scheduler_matches_torch_and_round_trips():
    torch = pytest.importorskip("torch")
    opt = optim.SGD(groups(optim, lambda: Param(np.zeros(2))), lr=0.1)
    topt = torch.optim.SGD(groups(torch.optim, lambda: torch.zeros(2, requires_grad=True)), lr=0.1)

    def chain(lib, o):
        return lib.ChainedScheduler(
            [
                lib.LambdaLR(o, _warmup),
                lib.ExponentialLR(o, gamma=0.9),
                lib.PolynomialLR(o, total_iters=12),
            ]
        )

    s, ts = chain(sched, opt), chain(torch.optim.lr_scheduler, topt)
    saved = None
    for t in range(20):
        assert s.get_last_lr() == ts.get_last_lr(), t
        opt.step()
        topt.step()
        s.step()
        ts.step()
        if t == 8:
            saved = s.state_dict()
            assert saved["_schedulers"][0]["lr_lambdas"] == [None, None]
    # Resume from the state after step 9 and replay: the same learning rates.
    opt2 = optim.SGD(groups(optim, lambda: Param(np.zeros(2))), lr=0.1)
    s2 = chain(sched, opt2)
    s2.load_state_dict(saved)
    for group, lr in zip(opt2.param_groups, s2.get_last_lr(), strict=True):
        group["lr"] = lr
    replay = []
    for _ in range(11):
        s2.step()
        replay.append(s2.get_last_lr())
    assert replay[-1] == s.get_last_lr()


def test_lambda_state_dict_keeps_callable_objects():
    class Decay:
        def __init__(self):
            self.rate = 0.5

        def __call__(self, epoch):
            return self.rate**epoch

    opt = optim.SGD([Param(np.zeros(1))], lr=0.1)
    fn = Decay()
    s = sched.LambdaLR(opt, fn)
    fn.rate = 0.25
    state = s.state_dict()
    assert state["lr_lambdas"] == [{"rate": 0.25}]
    fn2 = Decay()
    s2 = sched.LambdaLR(optim.SGD([Param(np.zeros(1))], lr=0.1), fn2)
    s2.load_state_dict(state)
    assert fn2.rate == 0.25


@pytest.mark.parametrize(
    ("make", "err", "pattern"),
    [
        (lambda o: sched.LambdaLR(o, 0.5), TypeError, r"`lr_lambda` must be a function"),
        (
            lambda o: sched.MultiplicativeLR(o, [_shrink]),
            ValueError,
            r"`lr_lambda` must have one function per param group \(2\), got 1",
        ),
        (lambda o: sched.PolynomialLR(o, total_iters=0), ValueError, r"`total_iters` must be >= 1"),
        (lambda o: sched.PolynomialLR(o, power="2"), TypeError, r"`power` must be a real number"),
        (
            lambda o: sched.CosineAnnealingWarmRestarts(o, T_0=2.5),
            TypeError,
            r"`T_0` must be an int",
        ),
        (
            lambda o: sched.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=0),
            ValueError,
            r"`T_mult` must be >= 1",
        ),
        (lambda o: sched.ChainedScheduler([]), ValueError, r"`schedulers` is empty"),
        (
            lambda o: sched.CyclicLR(o, 0.01, 0.1, mode="cosine"),
            ValueError,
            r"`mode` must be 'triangular', 'triangular2' or 'exp_range'.*got 'cosine'",
        ),
        (
            lambda o: sched.CyclicLR(o, 0.01, 0.1, scale_mode="epoch"),
            ValueError,
            r"`scale_mode` must be 'cycle' or 'iterations'",
        ),
        (
            lambda o: sched.CyclicLR(o, [0.01], 0.1),
            ValueError,
            r"`base_lr` must have one value per param group \(2\), got 1",
        ),
        (lambda o: sched.CyclicLR(o, 0.01, 0.1, step_size_up=0), ValueError, r"`step_size_up`"),
        (
            lambda o: sched.CyclicLR(o, 0.01, 0.1, scale_fn=3),
            TypeError,
            r"`scale_fn` must be a function or None, got int",
        ),
        (
            lambda o: sched.ChainedScheduler([sched.StepLR(o, 2), 3]),
            TypeError,
            r"`schedulers\[1\]` must be an LRScheduler, got int",
        ),
        (
            lambda o: sched.ChainedScheduler(
                [sched.StepLR(o, 2), sched.StepLR(optim.SGD([Param(np.zeros(1))]), 2)]
            ),
            ValueError,
            r"`schedulers\[1\]` \(StepLR\) schedules another optimiser",
        ),
        (
            lambda o: sched.ChainedScheduler([sched.ReduceLROnPlateau(o)]),
            ValueError,
            r"`schedulers\[0\]` is a ReduceLROnPlateau",
        ),
    ],
)
def test_new_scheduler_errors(make, err, pattern):
    opt = optim.SGD(groups(optim, lambda: Param(np.zeros(2))), lr=0.1)
    with pytest.raises(err, match=pattern):
        make(opt)


SEQUENCES = [
    (
        [
            ("LinearLR", {"start_factor": 0.1, "total_iters": 5}),
            ("CosineAnnealingLR", {"T_max": 20}),
        ],
        [5],
    ),
    (
        [
            ("ExponentialLR", {"gamma": 0.9}),
            ("StepLR", {"step_size": 3, "gamma": 0.5}),
            ("MultiStepLR", {"milestones": [2, 4], "gamma": 0.3}),
        ],
        [3, 10],
    ),
    ([("LambdaLR", {"lr_lambda": _warmup}), ("PolynomialLR", {"total_iters": 8})], [6]),
    ([("ConstantStart", {}), ("ExponentialLR", {"gamma": 0.8})], [0]),
]


@pytest.mark.parametrize(("parts", "milestones"), SEQUENCES, ids=range(len(SEQUENCES)))
def test_sequential_lr_matches_torch_and_round_trips(parts, milestones):
    torch = pytest.importorskip("torch")
    parts = [("StepLR", {"step_size": 100}) if n == "ConstantStart" else (n, kw) for n, kw in parts]

    def build(lib, opt):
        return lib.SequentialLR(
            opt, [getattr(lib, n)(opt, **kw) for n, kw in parts], milestones=milestones
        )

    opt = optim.SGD(groups(optim, lambda: Param(np.zeros(2))), lr=0.1)
    topt = torch.optim.SGD(groups(torch.optim, lambda: torch.zeros(2, requires_grad=True)), lr=0.1)
    s, ts = build(sched, opt), build(torch.optim.lr_scheduler, topt)
    history, saved = [], None
    for t in range(30):
        assert s.get_last_lr() == ts.get_last_lr(), t
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in topt.param_groups]
        history.append(s.get_last_lr())
        if t == 12:
            saved = (s.state_dict(), [g["lr"] for g in opt.param_groups])
        opt.step()
        topt.step()
        s.step()
        ts.step()
    opt2 = optim.SGD(groups(optim, lambda: Param(np.zeros(2))), lr=0.1)
    s2 = build(sched, opt2)
    s2.load_state_dict(saved[0])
    for group, lr in zip(opt2.param_groups, saved[1], strict=True):
        group["lr"] = lr
    for t in range(13, 30):
        s2.step()
        assert s2.get_last_lr() == history[t], t


def test_sequential_lr_errors():
    opt = optim.SGD(groups(optim, lambda: Param(np.zeros(2))), lr=0.1)
    a, b = sched.StepLR(opt, 2), sched.ExponentialLR(opt, 0.9)
    with pytest.raises(ValueError, match=r"`milestones` must have one entry fewer than"):
        sched.SequentialLR(opt, [a, b], milestones=[1, 2])
    with pytest.raises(ValueError, match=r"`schedulers` is empty"):
        sched.SequentialLR(opt, [], milestones=[])
    with pytest.raises(TypeError, match=r"`schedulers\[1\]` must be an LRScheduler, got str"):
        sched.SequentialLR(opt, [a, "b"], milestones=[1])
    other = sched.StepLR(optim.SGD([Param(np.zeros(1))]), 2)
    with pytest.raises(ValueError, match=r"`schedulers\[1\]` \(StepLR\) schedules another"):
        sched.SequentialLR(opt, [a, other], milestones=[1])
    with pytest.raises(ValueError, match=r"`milestones` must be ints >= 0, got -1"):
        sched.SequentialLR(opt, [a, b], milestones=[-1])
