"""L-BFGS: Rosenbrock convergence, PyTorch agreement, state round trip, errors."""

from __future__ import annotations

import numpy as np
import pytest
from optim_testing import Param

from dlx import optim


def rosenbrock(x: float, y: float) -> tuple[float, float, float]:
    """f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 and its gradient."""
    f = (1 - x) ** 2 + 100 * (y - x * x) ** 2
    return f, -2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)


def xy_closure(p: Param):
    """Closure for one parameter holding (x, y): sets p.grad by hand (no autograd here)."""

    def closure():
        x, y = p.data
        f, gx, gy = rosenbrock(x, y)
        p.grad = np.array([gx, gy], dtype=p.data.dtype)  # a fresh array every call
        return f

    return closure


@pytest.mark.parametrize("line_search_fn", ["strong_wolfe", None])
def test_lbfgs_reaches_rosenbrock_minimum(line_search_fn):
    p = Param(np.array([-1.5, 2.0]))
    kw = {"lr": 1.0} if line_search_fn else {"lr": 0.1}
    opt = optim.LBFGS(
        [p],
        max_iter=200,
        history_size=10,
        line_search_fn=line_search_fn,
        tolerance_grad=1e-12,
        tolerance_change=1e-14,
        **kw,
    )
    closure = xy_closure(p)
    for _ in range(20 if line_search_fn else 100):
        opt.step(closure)
    np.testing.assert_allclose(p.data, [1.0, 1.0], atol=1e-6)


def test_lbfgs_split_parameters_and_grad_views():
    """x and y as two parameters (two segments of the flat buffer); grads written in place."""
    px, py = Param(np.array([-1.5])), Param(np.array(2.0))
    opt = optim.LBFGS(
        [px, py],
        line_search_fn="strong_wolfe",
        max_iter=100,
        tolerance_grad=1e-12,
        tolerance_change=1e-14,
    )

    def closure():
        f, gx, gy = rosenbrock(px.data[0], float(py.data))
        if px.grad is None:
            px.grad, py.grad = np.zeros(1), np.zeros(())
        px.grad[...] = gx  # backward-style accumulation into the existing views
        py.grad[...] = gy
        return f

    for _ in range(5):
        opt.step(closure)
    np.testing.assert_allclose([px.data[0], float(py.data)], [1.0, 1.0], atol=1e-6)


@pytest.mark.parametrize("line_search_fn", ["strong_wolfe", None])
def test_lbfgs_matches_torch(line_search_fn):
    torch = pytest.importorskip("torch")
    kw = {
        "lr": 0.5 if line_search_fn is None else 1.0,
        "max_iter": 15,
        "history_size": 5,
        "line_search_fn": line_search_fn,
    }
    p = Param(np.array([-1.5, 2.0]))
    opt = optim.LBFGS([p], **kw)
    tp = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)
    topt = torch.optim.LBFGS([tp], **kw)

    def tclosure():  # the same arithmetic as xy_closure, so only L-BFGS itself differs
        f, gx, gy = rosenbrock(*tp.detach().tolist())
        tp.grad = torch.tensor([gx, gy], dtype=torch.float64)
        return torch.tensor(f, dtype=torch.float64)

    closure = xy_closure(p)
    for _ in range(4):
        loss = opt.step(closure)
        tloss = topt.step(tclosure)
        # torch's add_(alpha=t) rounds once (fused multiply-add), NumPy twice: the runs
        # agree bit for bit for ~15 iterations, then the ill-conditioned valley amplifies
        # last-bit differences (to ~1e-8 after 60 iterations).
        np.testing.assert_allclose(loss, tloss.item(), rtol=1e-6)
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-6, atol=1e-9)
    st, tst = opt.state_dict()["state"][0], topt.state_dict()["state"][0]
    assert st["func_evals"] == tst["func_evals"]
    assert st["n_iter"] == tst["n_iter"]


def test_lbfgs_state_dict_round_trip():
    def run(p, opt, steps):
        closure = xy_closure(p)
        for _ in range(steps):
            opt.step(closure)

    kw = {"max_iter": 3, "history_size": 4, "line_search_fn": "strong_wolfe"}
    full = Param(np.array([-1.5, 2.0]))
    run(full, optim.LBFGS([full], **kw), 6)
    p = Param(np.array([-1.5, 2.0]))
    opt = optim.LBFGS([p], **kw)
    run(p, opt, 3)
    saved = opt.state_dict()
    saved["state"][0]["d"] += 1.0  # the dict holds copies
    saved = opt.state_dict()
    resumed = Param(p.numpy().copy())
    opt2 = optim.LBFGS([resumed], max_iter=3)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["history_size"] == 4
    run(resumed, opt2, 3)
    np.testing.assert_array_equal(resumed.data, full.data)


def test_lbfgs_stops_at_once_on_a_zero_gradient():
    p = Param(np.array([1.0, 1.0]))
    opt = optim.LBFGS([p])
    assert opt.step(xy_closure(p)) == 0.0
    np.testing.assert_array_equal(p.data, [1.0, 1.0])


def test_lbfgs_float32():
    p = Param(np.array([-1.5, 2.0], np.float32))
    opt = optim.LBFGS([p], line_search_fn="strong_wolfe", max_iter=100)
    closure = xy_closure(p)
    for _ in range(3):
        opt.step(closure)
    assert p.data.dtype == np.float32
    np.testing.assert_allclose(p.data, [1.0, 1.0], atol=1e-3)


def test_lbfgs_errors():
    p = Param(np.zeros(2))
    with pytest.raises(ValueError, match=r"`params` of LBFGS must all have one dtype"):
        optim.LBFGS([p, Param(np.zeros(2, np.float32))])
    with pytest.raises(ValueError, match=r"doesn't support per-parameter options"):
        optim.LBFGS([{"params": [p]}, {"params": [Param(np.zeros(1))]}])
    with pytest.raises(ValueError, match=r"`lr` must be a finite number > 0"):
        optim.LBFGS([p], lr=0)
    with pytest.raises(ValueError, match=r"`max_iter` must be >= 1"):
        optim.LBFGS([p], max_iter=0)
    opt = optim.LBFGS([p])
    with pytest.raises(TypeError, match=r"`closure` must be a callable"):
        opt.step(None)
