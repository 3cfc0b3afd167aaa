"""dlx.optim optimisers: flat buffers, rebinding, None grads, param groups, errors."""

from __future__ import annotations

import numpy as np
import pytest
from optim_testing import Param, assert_trajectory_close, make_problem, run_dlx

import dlx
from dlx import optim


def test_state_dict_layout_is_torch_like():
    params = [Param(np.ones((2, 3))), Param(np.ones(4))]
    opt = optim.Adam(params, amsgrad=True)
    params[0].grad = np.ones((2, 3))
    opt.step()
    sd = opt.state_dict()
    assert list(sd["state"]) == [0]  # param 1 had no grad: no state
    st = sd["state"][0]
    assert st["step"] == 1
    assert sorted(st) == ["exp_avg", "exp_avg_sq", "max_exp_avg_sq", "step"]
    assert st["exp_avg"].shape == (2, 3)
    assert sd["param_groups"][0]["params"] == [0, 1]
    assert sd["param_groups"][0]["betas"] == (0.9, 0.999)
    assert optim.SGD(params, momentum=0).state_dict()["state"] == {}


def test_state_dict_loads_into_torch_and_back():
    torch = pytest.importorskip("torch")
    init, grads = make_problem(np.float64, steps=5)
    params, opt = run_dlx(optim.Adam, {"lr": 0.01}, init, grads)
    tparams = [torch.tensor(p.numpy().copy(), requires_grad=True) for p in params]
    topt = torch.optim.Adam(tparams, lr=0.01)
    sd = opt.state_dict()
    topt.load_state_dict(
        {
            "state": {
                i: {k: torch.tensor(np.asarray(v, dtype=np.float64)) for k, v in st.items()}
                for i, st in sd["state"].items()
            },
            "param_groups": [
                {
                    **g,
                    **{k: False for k in ("maximize", "foreach", "capturable", "differentiable")},
                    "fused": None,
                }
                for g in sd["param_groups"]
            ],
        }
    )
    for p, tp in zip(params, tparams, strict=True):
        p.grad = np.ones(p.data.shape)
        tp.grad = torch.ones(tp.shape, dtype=torch.float64)
    opt.step()
    topt.step()
    for p, tp in zip(params, tparams, strict=True):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12)
    opt2 = optim.Adam([Param(tp.detach().numpy().copy()) for tp in tparams], lr=0.01)
    opt2.load_state_dict(topt.state_dict())  # torch tensors and float steps are accepted
    assert opt2.state_dict()["state"][0]["step"] == 6


def test_params_are_views_of_one_flat_buffer_per_dtype():
    a = Param(np.ones((2, 2), np.float32))
    b = Param(np.zeros(3))
    c = Param(np.full(3, 2.0, np.float32))
    original = a.data
    opt = optim.SGD([a, b, c], lr=0.5)
    bufs = opt.flat_buffers()
    data32, grad32 = bufs[np.dtype(np.float32)]
    assert data32.shape == (7,)
    assert np.shares_memory(a.data, data32)
    assert np.shares_memory(c.data, data32)
    assert np.shares_memory(b.data, bufs[np.dtype(np.float64)][0])
    np.testing.assert_array_equal(data32, [1, 1, 1, 1, 2, 2, 2])
    a.grad = np.ones((2, 2), np.float32)
    opt.step()
    assert np.shares_memory(a.grad, grad32)
    np.testing.assert_array_equal(a.data, 0.5)
    np.testing.assert_array_equal(original, 1)  # the old array is no longer the storage
    a.grad += 1  # backward accumulates into the view in place
    assert grad32[0] == 2


def test_none_grads_are_skipped_entirely():
    a, b = Param(np.ones(3)), Param(np.ones(3))
    opt = optim.Adam([a, b], weight_decay=0.5)
    a.grad = np.ones(3)
    opt.step()
    np.testing.assert_array_equal(b.data, 1)  # no weight decay either
    assert opt.state[b] == {}
    assert opt.state[a]["step"] == 1
    a_after_one = a.numpy().copy()
    b.grad = np.ones(3)
    opt.step()  # a and b are at different steps now: two runs of the kernel
    assert opt.state[a]["step"] == 2
    assert opt.state[b]["step"] == 1
    np.testing.assert_array_equal(b.data, a_after_one)  # b's first step is a's first step


def test_rebinding_grad_and_data_is_detected():
    p = Param(np.zeros(4))
    opt = optim.SGD([p], lr=1.0)
    p.grad = np.ones(4)  # a fresh array, as backward makes after zero_grad()
    opt.step()
    np.testing.assert_array_equal(p.data, -1)
    view = p.grad
    p.grad = np.full(4, 2.0)
    opt.step()
    np.testing.assert_array_equal(p.data, -3)
    assert p.grad is view
    p.data = np.full(4, 10.0)  # e.g. weights loaded from a checkpoint
    opt.step()
    np.testing.assert_array_equal(p.data, 8)
    assert np.shares_memory(p.data, opt.flat_buffers()[np.dtype(np.float64)][0])
    p.grad[...] = 1.0  # in-place writes into the view are seen
    opt.step()
    np.testing.assert_array_equal(p.data, 7)


def test_rebinding_with_wrong_shape_or_dtype_raises():
    p = Param(np.zeros((2, 2)))
    opt = optim.SGD([p])
    with pytest.raises(ValueError, match=r"`grad` must have shape \(2, 2\), got \(3,\)"):
        p.grad = np.ones(3)  # refused at assignment, as in PyTorch
    with pytest.raises(TypeError, match=r"`grad` must have dtype float64, got float32"):
        p.grad = np.ones((2, 2), np.float32)
    p.grad = None
    p.data = np.ones(5)
    with pytest.raises(ValueError, match=r"`data` of shape \(5,\), expected \(2, 2\)"):
        opt.step()


def test_zero_grad():
    a, b = Param(np.zeros(2)), Param(np.zeros(3))
    opt = optim.SGD([a, b])
    a.grad = np.ones(2)
    opt.step()
    view = a.grad
    opt.zero_grad(set_to_none=False)  # one memset, views kept, None stays None
    assert a.grad is view
    np.testing.assert_array_equal(view, 0)
    assert b.grad is None
    a.grad = np.ones(2)  # a rebound grad is zeroed too
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad, 0)
    opt.zero_grad()
    assert a.grad is None
    assert b.grad is None


def test_add_param_group_keeps_state():
    torch = pytest.importorskip("torch")
    init, grads = make_problem(np.float64, steps=10)
    params = [Param(a.copy()) for a in init]
    tparams = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt = optim.Adam(params[:2], lr=0.01)
    topt = torch.optim.Adam(tparams[:2], lr=0.01)
    for t, gs in enumerate(grads):
        if t == 4:
            opt.add_param_group({"params": params[2:], "lr": 0.1})
            topt.add_param_group({"params": tparams[2:], "lr": 0.1})
        for k, g in enumerate(gs):
            params[k].grad = g.copy()
            tparams[k].grad = torch.tensor(g)
        opt.step()
        topt.step()
    assert_trajectory_close(
        [p.data for p in params], [p.detach().numpy() for p in tparams], np.float64
    )


def test_adamw_defaults():
    opt = optim.AdamW([Param(np.zeros(2))])
    group = opt.param_groups[0]
    assert group["weight_decay"] == 1e-2
    assert group["decoupled_weight_decay"] is True
    assert optim.SGD([Param(np.zeros(2))]).param_groups[0]["lr"] == 1e-3
    assert optim.NAdam([Param(np.zeros(2))]).param_groups[0]["lr"] == 2e-3


def test_adamax_rprop_asgd_defaults_match_torch():
    torch = pytest.importorskip("torch")
    for name in ("Adamax", "Rprop", "ASGD"):
        ours = getattr(optim, name)([Param(np.zeros(2))]).param_groups[0]
        theirs = getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)]).param_groups[0]
        for key, val in ours.items():
            if key != "params":
                assert val == (tuple(theirs[key]) if isinstance(val, tuple) else theirs[key]), key


@pytest.mark.parametrize(
    ("cls", "kw", "err", "pattern"),
    [
        (optim.SGD, {"lr": 0}, ValueError, r"`lr` must be a finite number > 0, got 0"),
        (optim.Adam, {"lr": -1e-3}, ValueError, r"`lr` must be a finite number > 0"),
        (optim.Adam, {"lr": "0.1"}, TypeError, r"`lr` must be a real number, got str"),
        (
            optim.Adam,
            {"betas": (1.0, 0.999)},
            ValueError,
            r"`betas\[0\]` must be in \[0, 1\), got 1",
        ),
        (optim.NAdam, {"betas": (0.9, -0.1)}, ValueError, r"`betas\[1\]` must be in \[0, 1\)"),
        (optim.RAdam, {"betas": 0.9}, TypeError, r"`betas` must be a pair"),
        (optim.Adam, {"eps": -1e-8}, ValueError, r"`eps` must be a finite number >= 0"),
        (optim.AdamW, {"weight_decay": -0.1}, ValueError, r"`weight_decay` must be"),
        (optim.SGD, {"momentum": -0.9}, ValueError, r"`momentum` must be a finite number >= 0"),
        (optim.SGD, {"nesterov": True}, ValueError, r"`nesterov` needs `momentum` > 0"),
        (
            optim.SGD,
            {"nesterov": True, "momentum": 0.9, "dampening": 0.1},
            ValueError,
            r"`nesterov` needs `momentum` > 0 and `dampening` = 0",
        ),
        (optim.RMSprop, {"alpha": 1.5}, ValueError, r"`alpha` must be in \[0, 1\]"),
        (optim.Adadelta, {"rho": -0.5}, ValueError, r"`rho` must be in \[0, 1\]"),
        (optim.Adagrad, {"lr_decay": -1}, ValueError, r"`lr_decay` must be"),
        (optim.RMSprop, {"centered": 1}, TypeError, r"`centered` must be a bool"),
        (optim.Adamax, {"lr": 0}, ValueError, r"`lr` must be a finite number > 0, got 0"),
        (optim.Adamax, {"betas": (0.9, 1.0)}, ValueError, r"`betas\[1\]` must be in \[0, 1\)"),
        (optim.Adamax, {"eps": -1.0}, ValueError, r"`eps` must be a finite number >= 0"),
        (optim.Adamax, {"weight_decay": "x"}, TypeError, r"`weight_decay` must be a real number"),
        (optim.Rprop, {"lr": float("nan")}, ValueError, r"`lr` must be a finite number > 0"),
        (optim.Rprop, {"etas": 0.5}, TypeError, r"`etas` must be a pair \(etaminus, etaplus\)"),
        (
            optim.Rprop,
            {"etas": (0.5, 0.9)},
            ValueError,
            r"`etas` must satisfy 0 < etas\[0\] < 1 < etas\[1\], got \(0.5, 0.9\)",
        ),
        (optim.Rprop, {"etas": (0.0, 1.2)}, ValueError, r"`etas` must satisfy"),
        (optim.Rprop, {"etas": ("a", 1.2)}, TypeError, r"`etas\[0\]` must be a real number"),
        (
            optim.Rprop,
            {"step_sizes": (1.0, 0.1)},
            ValueError,
            r"`step_sizes` must be \(min, max\) with min <= max, got \(1.0, 0.1\)",
        ),
        (optim.Rprop, {"step_sizes": (-1, 50)}, ValueError, r"`step_sizes\[0\]` must be"),
        (optim.Rprop, {"step_sizes": [1e-6]}, TypeError, r"`step_sizes` must be a pair"),
        (optim.ASGD, {"lr": -0.1}, ValueError, r"`lr` must be a finite number > 0"),
        (optim.ASGD, {"lambd": -1e-4}, ValueError, r"`lambd` must be a finite number >= 0"),
        (optim.ASGD, {"alpha": float("inf")}, ValueError, r"`alpha` must be a finite number"),
        (optim.ASGD, {"t0": None}, TypeError, r"`t0` must be a real number, got NoneType"),
        (optim.ASGD, {"weight_decay": -1}, ValueError, r"`weight_decay` must be"),
        (optim.LBFGS, {"line_search_fn": "wolfe"}, ValueError, r"`line_search_fn` must be None"),
        (optim.LBFGS, {"history_size": 0}, ValueError, r"`history_size` must be >= 1"),
    ],
)
def test_optimizer_argument_errors(cls, kw, err, pattern):
    with pytest.raises(err, match=pattern):
        cls([Param(np.zeros(2))], **kw)


def test_optimizer_param_errors():
    with pytest.raises(ValueError, match=r"`params` is an empty list"):
        optim.Adam([])
    with pytest.raises(ValueError, match=r"`params` of param group 1 is empty"):
        optim.Adam([{"params": [Param(np.zeros(1))]}, {"params": []}])
    with pytest.raises(TypeError, match=r"`params` must be an iterable"):
        optim.Adam(Param(np.zeros(1)))
    with pytest.raises(TypeError, match=r"`params` must be an iterable"):
        optim.Adam(np.zeros(3))
    with pytest.raises(TypeError, match=r"parameter 1 must be a dlx.Tensor"):
        optim.Adam([Param(np.zeros(1)), np.zeros(1)])
    with pytest.raises(
        optim.ParamDTypeError, match=r"parameter 0 must have float32 or float64 data, got int64"
    ):
        optim.Adam([dlx.nn.Parameter(np.zeros(2, np.int64), requires_grad=False)])
    with pytest.raises(RuntimeError, match=r"float32 or float64 data, got float16"):
        optim.Adam([Param(np.zeros(2, np.float16))])  # RuntimeError, as torch's fused Adam
    p = Param(np.zeros(2))
    with pytest.raises(
        ValueError, match=r"parameter 1 appears more than once \(it is parameter 0\)"
    ):
        optim.SGD([p, p])
    opt = optim.SGD([p])
    with pytest.raises(
        ValueError, match=r"parameter 2 appears more than once \(it is parameter 0\)"
    ):
        opt.add_param_group({"params": [Param(np.zeros(1)), p]})
    with pytest.raises(ValueError, match=r"appears more than once"):
        optim.SGD([{"params": [p]}, {"params": [p]}])
    assert len(opt.param_groups) == 1  # a failed add_param_group changes nothing
    with pytest.raises(ValueError, match=r"`lr` must be a finite number > 0"):
        opt.add_param_group({"params": [Param(np.zeros(1))], "lr": 0.0})


def test_load_state_dict_errors():
    opt = optim.Adam([Param(np.zeros(2)), Param(np.zeros(3))])
    with pytest.raises(ValueError, match=r"has 2 parameter groups, the optimiser has 1"):
        opt.load_state_dict({"state": {}, "param_groups": [{"params": [0]}, {"params": [1]}]})
    with pytest.raises(ValueError, match=r"loaded param group 0 has 1 parameters"):
        opt.load_state_dict({"state": {}, "param_groups": [{"params": [0]}]})
    group = opt.state_dict()["param_groups"][0]
    with pytest.raises(ValueError, match=r"parameter 1 lacks `exp_avg_sq`"):
        opt.load_state_dict(
            {"state": {1: {"step": 3, "exp_avg": np.zeros(3)}}, "param_groups": [group]}
        )
    with pytest.raises(ValueError, match=r"`exp_avg` of parameter 0 has shape \(3,\)"):
        opt.load_state_dict(
            {
                "state": {0: {"step": 3, "exp_avg": np.zeros(3), "exp_avg_sq": np.zeros(3)}},
                "param_groups": [group],
            }
        )
    with pytest.raises(TypeError, match=r"`state_dict` must be a dict"):
        opt.load_state_dict([])


def test_repr_lists_groups():
    text = repr(optim.SGD([Param(np.zeros(1))], lr=0.5))
    assert text.startswith("SGD (")
    assert "lr: 0.5" in text


def test_empty_and_scalar_parameters():
    empty, scalar = Param(np.zeros((0, 3))), Param(np.array(2.0))
    opt = optim.Adam([empty, scalar], lr=0.5)
    empty.grad, scalar.grad = np.zeros((0, 3)), np.array(1.0)
    opt.step()
    assert empty.data.shape == (0, 3)
    assert scalar.data.shape == ()
    np.testing.assert_allclose(scalar.data, 1.5)


def test_construction_checks_existing_grads_first():
    a, b = Param(np.zeros(2, np.float32)), Param(np.zeros(3))
    b.grad = np.zeros(3)
    b.data = np.zeros(3, np.float32)  # storage rebound to another dtype after the grad was set
    with pytest.raises(TypeError, match=r"parameter 1 has a `grad` of dtype float64"):
        optim.SGD([a, b])
    assert a.numpy().base is None  # nothing was packed before the error
    b.data = np.zeros((3, 1))  # ... or to another shape
    with pytest.raises(ValueError, match=r"parameter 1 has a `grad` of shape \(3,\)"):
        optim.SGD([a, b])
