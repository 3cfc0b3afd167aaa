from __future__ import annotations

import numpy as np
import pytest
from dlx_testing import assert_close, check_grad

from dlx import _core, reference

# Kernels with per-level code: CI runs this file again at every ISA level (.ci/run).
pytestmark = pytest.mark.isa_levels

REDUCTIONS = ["mean", "sum", "none"]
# float32 sums of many terms: compare with an absolute floor scaled to the loss size.
F32 = {"rtol": 2e-5, "atol": 1e-5}


def tol(dtype):
    return F32 if dtype == np.float32 else {}


def grad_loss_for(rng, loss, dtype):
    """A random upstream gradient shaped like the loss (0-d for mean/sum)."""
    return np.asarray(rng.standard_normal(loss.shape), dtype=dtype)


def labels(rng, n, c, ignore_index=-100, ignored=0.25):
    t = rng.integers(0, c, n).astype(np.int64)
    t[rng.random(n) < ignored] = ignore_index
    return t


# ---- cross-entropy -----------------------------------------------------------------------

CE_SHAPES = [(1, 1), (4, 3), (17, 10), (128, 1000), (0, 5)]


@pytest.mark.parametrize(("n", "c"), CE_SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
def test_cross_entropy_matches_reference(rng, dtype, n, c, reduction, weighted, smoothing):
    x = (rng.standard_normal((n, c)) * 3).astype(dtype)
    t = labels(rng, n, c, ignored=0.25 if n > 4 else 0.0)
    w = rng.uniform(0.2, 2.0, c).astype(dtype) if weighted else None
    args = (w, -100, smoothing, reduction)
    loss, lp = _core.cross_entropy_forward(x, t, *args)
    rloss, rlp = reference.cross_entropy_forward(x, t, *args)
    assert loss.shape == ((n,) if reduction == "none" else ())
    assert loss.dtype == dtype
    assert lp.shape == (n, c)
    assert_close(lp, rlp)
    if n > 0 or reduction != "mean":
        assert_close(loss, rloss, **tol(dtype))
    g = grad_loss_for(rng, loss, dtype)
    gx = _core.cross_entropy_backward(g, lp, t, *args)
    assert gx.shape == (n, c)
    if n > 0:
        assert_close(gx, reference.cross_entropy_backward(g, lp, t, *args), **tol(dtype))


@pytest.mark.parametrize(("n", "c"), [(1, 1), (4, 3), (17, 10), (128, 1000)], ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_probability_targets_match_reference(
    rng, dtype, n, c, reduction, weighted, smoothing
):
    x = (rng.standard_normal((n, c)) * 3).astype(dtype)
    t = rng.dirichlet(np.ones(c), n).astype(dtype)
    w = rng.uniform(0.2, 2.0, c).astype(dtype) if weighted else None
    args = (w, -100, smoothing, reduction)
    loss, lp = _core.cross_entropy_forward(x, t, *args)
    rloss, rlp = reference.cross_entropy_forward(x, t, *args)
    assert_close(lp, rlp)
    assert_close(loss, rloss, **tol(dtype))
    g = grad_loss_for(rng, loss, dtype)
    gx = _core.cross_entropy_backward(g, lp, t, *args)
    assert_close(gx, reference.cross_entropy_backward(g, lp, t, *args), **tol(dtype))


GRADCHECK_CE = [
    {},
    {"reduction": "sum"},
    {"reduction": "none"},
    {"label_smoothing": 0.2},
    {"weight": True},
    {"weight": True, "label_smoothing": 0.3, "reduction": "mean"},
    {"weight": True, "label_smoothing": 0.1, "reduction": "none"},
    {"ignore_index": 1},
    {"ignore_index": -100, "ignored": True, "weight": True},
]


@pytest.mark.parametrize(
    "case", GRADCHECK_CE, ids=lambda d: "-".join(f"{k}={v}" for k, v in d.items()) or "default"
)
@pytest.mark.parametrize("probabilities", [False, True], ids=["indices", "probs"])
def test_cross_entropy_gradcheck_float64(rng, case, probabilities):
    n, c = 5, 4
    case = dict(case)
    ignored = case.pop("ignored", False)
    if case.pop("weight", False):
        case["weight"] = rng.uniform(0.3, 2.0, c)
    if probabilities:
        t = rng.dirichlet(np.ones(c), n)
    else:
        t = rng.integers(0, c, n).astype(np.int64)
        if ignored:
            t[[0, 3]] = case.get("ignore_index", -100)
    x = rng.standard_normal((n, c))
    loss, lp = _core.cross_entropy_forward(x, t, **case)
    g = grad_loss_for(rng, loss, np.float64)
    gx = _core.cross_entropy_backward(g, lp, t, **case)

    def f():
        return float((_core.cross_entropy_forward(x, t, **case)[0] * g).sum())

    check_grad(f, x, gx)
    if probabilities:  # the probability target is differentiable too; check the logits only
        return
    if "ignore_index" in case and not ignored:
        assert (gx[t == case["ignore_index"]] == 0).all()


def test_cross_entropy_ignored_rows_are_left_out(rng, dtype):
    x = rng.standard_normal((4, 3)).astype(dtype)
    w = np.array([1.0, 2.0, 3.0], dtype)
    t = np.array([0, -100, 2, -100], np.int64)
    loss, lp = _core.cross_entropy_forward(x, t, w)
    kept, _ = _core.cross_entropy_forward(x[[0, 2]].copy(), t[[0, 2]].copy(), w)
    assert_close(loss, kept)  # mean over the summed weights of the kept rows only
    expected = -(w[0] * lp[0, 0] + w[2] * lp[2, 2]) / (w[0] + w[2])
    assert_close(loss, expected)
    gx = _core.cross_entropy_backward(np.array(1.0, dtype), lp, t, w)
    assert (gx[[1, 3]] == 0).all()
    # ignore_index may also be a valid class
    loss2, _ = _core.cross_entropy_forward(x, np.array([0, 1, 2, 1], np.int64), ignore_index=1)
    assert_close(loss2, -(lp[0, 0] + lp[2, 2]) / 2)


def test_cross_entropy_empty_and_all_ignored_follow_pytorch(dtype):
    x = np.zeros((0, 4), dtype)
    t = np.zeros(0, np.int64)
    assert np.isnan(_core.cross_entropy_forward(x, t)[0])
    assert _core.cross_entropy_forward(x, t, reduction="sum")[0] == 0
    assert _core.cross_entropy_forward(x, t, reduction="none")[0].shape == (0,)
    x = np.ones((3, 4), dtype)
    t = np.full(3, -100, np.int64)
    loss, lp = _core.cross_entropy_forward(x, t)
    assert np.isnan(loss)  # 0 / 0, as in PyTorch
    np.testing.assert_array_equal(_core.cross_entropy_backward(np.array(1.0, dtype), lp, t), 0)


def test_cross_entropy_extreme_logits_are_finite(dtype):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], dtype)
    t = np.array([0, 0], np.int64)
    loss, lp = _core.cross_entropy_forward(x, t, reduction="none")
    np.testing.assert_array_equal(loss, [0, 2e4])
    gx = _core.cross_entropy_backward(np.ones(2, dtype), lp, t, reduction="none")
    np.testing.assert_array_equal(gx, [[0, 0, 0], [-1, 1, 0]])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("probabilities", [False, True], ids=["indices", "probs"])
def test_cross_entropy_matches_torch(rng, dtype, reduction, weighted, smoothing, probabilities):
    torch = pytest.importorskip("torch")
    n, c = 9, 5
    x = (rng.standard_normal((n, c)) * 3).astype(dtype)
    t = rng.dirichlet(np.ones(c), n).astype(dtype) if probabilities else labels(rng, n, c)
    w = rng.uniform(0.2, 2.0, c).astype(dtype) if weighted else None
    tx = torch.from_numpy(x.copy()).requires_grad_()
    tl = torch.nn.functional.cross_entropy(
        tx,
        torch.from_numpy(t),
        weight=None if w is None else torch.from_numpy(w),
        label_smoothing=smoothing,
        reduction=reduction,
    )
    g = grad_loss_for(rng, tl.detach().numpy(), dtype)
    (tgx,) = torch.autograd.grad(tl, tx, torch.from_numpy(g))
    loss, lp = _core.cross_entropy_forward(x, t, w, -100, smoothing, reduction)
    assert_close(loss, tl.detach().numpy(), **tol(dtype))
    gx = _core.cross_entropy_backward(g, lp, t, w, -100, smoothing, reduction)
    assert_close(gx, tgx.numpy(), **tol(dtype))


def test_cross_entropy_errors():
    x = np.zeros((3, 4), np.float32)
    t = np.array([0, 1, 2], np.int64)
    with pytest.raises(
        ValueError,
        match=r"cross_entropy_forward: `reduction` must be 'mean', "
        r"'sum' or 'none', got 'avg'",
    ):
        _core.cross_entropy_forward(x, t, reduction="avg")
    with pytest.raises(
        ValueError,
        match=r"`target` has class 4 at position 2, outside \[0, 4\) "
        r"and not ignore_index=-100",
    ):
        _core.cross_entropy_forward(x, np.array([0, 1, 4], np.int64))
    with pytest.raises(ValueError, match=r"`target` has class -1 at position 0"):
        _core.cross_entropy_forward(x, np.array([-1, 1, 2], np.int64))
    with pytest.raises(ValueError, match=r"cross_entropy_backward: `target` has class 9"):
        _core.cross_entropy_backward(np.array(1.0, np.float32), x, np.array([0, 9, 1], np.int64))
    with pytest.raises(ValueError, match=r"`label_smoothing` must be in \[0, 1\], got 1.5"):
        _core.cross_entropy_forward(x, t, label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"`weight` must have shape \(4,\), got \(3,\)"):
        _core.cross_entropy_forward(x, t, np.ones(3, np.float32))
    with pytest.raises(TypeError, match=r"`weight` must have dtype float32"):
        _core.cross_entropy_forward(x, t, np.ones(4))
    with pytest.raises(
        TypeError,
        match=r"`target` must be int64 class indices or float32 "
        r"probabilities, got int32",
    ):
        _core.cross_entropy_forward(x, t.astype(np.int32))
    with pytest.raises(ValueError, match=r"`target` must have shape \(3,\), got \(3, 1\)"):
        _core.cross_entropy_forward(x, t.reshape(3, 1))
    with pytest.raises(ValueError, match=r"`target` must have shape \(3, 4\), got \(3, 3\)"):
        _core.cross_entropy_forward(x, np.ones((3, 3), np.float32))
    with pytest.raises(ValueError, match=r"`logits` must be 2-D, got ndim=1"):
        _core.cross_entropy_forward(np.zeros(4, np.float32), t[:1].copy())
    with pytest.raises(
        ValueError,
        match=r"`grad_loss` must be 0-d for reduction='mean', got "
        r"shape \(3,\)",
    ):
        _core.cross_entropy_backward(np.ones(3, np.float32), x, t)
    with pytest.raises(ValueError, match=r"`grad_loss` must have shape \(3,\), got \(\)"):
        _core.cross_entropy_backward(np.array(1.0, np.float32), x, t, reduction="none")
    with pytest.raises(TypeError, match=r"`grad_loss` must have dtype float32"):
        _core.cross_entropy_backward(np.array(1.0), x, t)


# ---- binary cross-entropy with logits ----------------------------------------------------

BCE_SHAPES = [(0,), (5,), (4, 3), (2, 3, 4), (300, 200)]


@pytest.mark.parametrize("shape", BCE_SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weight", ["none", "per-class", "shared"])
def test_bce_with_logits_matches_reference(rng, dtype, shape, reduction, pos_weight):
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    t = rng.uniform(0, 1, shape).astype(dtype)
    last = shape[-1]
    pw = {
        "none": None,
        "per-class": rng.uniform(0.5, 3, last).astype(dtype),
        "shared": np.array([2.5], dtype),
    }[pos_weight]
    loss = _core.bce_with_logits_forward(x, t, pw, reduction)
    if x.size > 0 or reduction != "mean":
        assert_close(loss, reference.bce_with_logits_forward(x, t, pw, reduction), **tol(dtype))
    g = grad_loss_for(rng, loss, dtype)
    gx = _core.bce_with_logits_backward(g, x, t, pw, reduction)
    assert gx.shape == shape
    if x.size > 0:
        assert_close(gx, reference.bce_with_logits_backward(g, x, t, pw, reduction), **tol(dtype))


def test_bce_with_logits_extreme_logits(dtype):
    x = np.array([100.0, -100.0, 100.0, -100.0, 0.0], dtype)
    t = np.array([1.0, 1.0, 0.0, 0.0, 0.5], dtype)
    loss = _core.bce_with_logits_forward(x, t, reduction="none")
    assert np.isfinite(loss).all()
    assert_close(loss, [0.0, 100.0, 100.0, 0.0, np.log(2.0)], atol=1e-6)
    gx = _core.bce_with_logits_backward(np.ones(5, dtype), x, t, reduction="none")
    assert_close(gx, [0.0, -1.0, 1.0, 0.0, 0.0], atol=1e-6)
    pw = np.array([3.0], dtype)
    assert_close(_core.bce_with_logits_forward(x[1:2], t[1:2], pw, "sum"), 300.0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weight", ["none", "per-class", "shared"])
def test_bce_with_logits_gradcheck_float64(rng, reduction, pos_weight):
    x = rng.standard_normal((3, 4)) * 2
    t = rng.uniform(0, 1, (3, 4))
    pw = {"none": None, "per-class": rng.uniform(0.5, 3, 4), "shared": np.array([2.0])}[pos_weight]
    loss = _core.bce_with_logits_forward(x, t, pw, reduction)
    g = grad_loss_for(rng, loss, np.float64)
    gx = _core.bce_with_logits_backward(g, x, t, pw, reduction)

    def f():
        return float((_core.bce_with_logits_forward(x, t, pw, reduction) * g).sum())

    check_grad(f, x, gx)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos_weight", ["none", "per-class"])
def test_bce_with_logits_matches_torch(rng, dtype, reduction, pos_weight):
    torch = pytest.importorskip("torch")
    x = (rng.standard_normal((6, 5)) * 30).astype(dtype)
    t = (rng.random((6, 5)) < 0.5).astype(dtype)
    pw = rng.uniform(0.5, 3, 5).astype(dtype) if pos_weight == "per-class" else None
    tx = torch.from_numpy(x.copy()).requires_grad_()
    tl = torch.nn.functional.binary_cross_entropy_with_logits(
        tx,
        torch.from_numpy(t),
        pos_weight=None if pw is None else torch.from_numpy(pw),
        reduction=reduction,
    )
    g = grad_loss_for(rng, tl.detach().numpy(), dtype)
    (tgx,) = torch.autograd.grad(tl, tx, torch.from_numpy(g))
    assert_close(
        _core.bce_with_logits_forward(x, t, pw, reduction), tl.detach().numpy(), **tol(dtype)
    )
    assert_close(_core.bce_with_logits_backward(g, x, t, pw, reduction), tgx.numpy(), **tol(dtype))


def test_bce_with_logits_errors():
    x = np.zeros((3, 4), np.float32)
    with pytest.raises(
        ValueError,
        match=r"bce_with_logits_forward: `pos_weight` must have 1 "
        r"element or one per class along the last axis \(4\)",
    ):
        _core.bce_with_logits_forward(x, x, np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"`pos_weight` must be 1-D"):
        _core.bce_with_logits_forward(x, x, np.ones((1, 4), np.float32))
    with pytest.raises(ValueError, match=r"`target` must have shape \(3, 4\), got \(4, 3\)"):
        _core.bce_with_logits_forward(x, np.zeros((4, 3), np.float32))
    with pytest.raises(TypeError, match=r"`target` must have dtype float32"):
        _core.bce_with_logits_forward(x, np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"bce_with_logits_backward: `reduction` must be"):
        _core.bce_with_logits_backward(np.array(1.0, np.float32), x, x, reduction="mean ")
    with pytest.raises(ValueError, match=r"`grad_loss` must have shape \(3, 4\), got \(3,\)"):
        _core.bce_with_logits_backward(np.ones(3, np.float32), x, x, reduction="none")


# ---- MSE, L1, Huber ----------------------------------------------------------------------

POINTWISE = [("mse_loss", {}), ("l1_loss", {}), ("huber_loss", {}), ("huber_loss", {"delta": 0.3})]
POINTWISE_IDS = [name + "".join(f"-{k}={v}" for k, v in kw.items()) for name, kw in POINTWISE]
POINTWISE_SHAPES = [(0,), (1,), (7,), (4, 3), (2, 3, 4, 5), (500, 300)]


def pw_fwd(name, x, t, kw, reduction, impl=_core):
    return getattr(impl, f"{name}_forward")(x, t, reduction=reduction, **kw)


def pw_bwd(name, g, x, t, kw, reduction, impl=_core):
    return getattr(impl, f"{name}_backward")(g, x, t, reduction=reduction, **kw)


@pytest.mark.parametrize(("name", "kw"), POINTWISE, ids=POINTWISE_IDS)
@pytest.mark.parametrize("shape", POINTWISE_SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_pointwise_loss_matches_reference(rng, dtype, name, kw, shape, reduction):
    x = (rng.standard_normal(shape) * 2).astype(dtype)
    t = rng.standard_normal(shape).astype(dtype)
    loss = pw_fwd(name, x, t, kw, reduction)
    assert loss.dtype == dtype
    assert loss.shape == (shape if reduction == "none" else ())
    if x.size > 0 or reduction != "mean":
        assert_close(loss, pw_fwd(name, x, t, kw, reduction, reference), **tol(dtype))
    else:
        assert np.isnan(loss)  # mean over nothing, as in PyTorch
    g = grad_loss_for(rng, loss, dtype)
    gx = pw_bwd(name, g, x, t, kw, reduction)
    assert gx.shape == shape
    if x.size > 0:
        assert_close(gx, pw_bwd(name, g, x, t, kw, reduction, reference), **tol(dtype))


@pytest.mark.parametrize(("name", "kw"), POINTWISE, ids=POINTWISE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_pointwise_loss_gradcheck_float64(rng, name, kw, reduction):
    x = rng.standard_normal((3, 5)) * 2
    t = rng.standard_normal((3, 5))
    loss = pw_fwd(name, x, t, kw, reduction)
    g = grad_loss_for(rng, loss, np.float64)
    gx = pw_bwd(name, g, x, t, kw, reduction)

    def f():
        return float((pw_fwd(name, x, t, kw, reduction) * g).sum())

    check_grad(f, x, gx)


def test_pointwise_loss_subgradients(dtype):
    x = np.array([1.0, 2.0, -3.0, 0.5], dtype)
    t = np.array([1.0, 0.0, 0.0, 0.0], dtype)
    g = np.ones(4, dtype)
    np.testing.assert_array_equal(_core.l1_loss_backward(g, x, t, reduction="none"), [0, 1, -1, 1])
    # Huber: linear part outside [-delta, delta], with slope +-delta; |d| = delta is linear.
    hb = _core.huber_loss_backward(g, x, t, delta=2.0, reduction="none")
    np.testing.assert_array_equal(hb, [0, 2, -2, 0.5])
    np.testing.assert_allclose(
        _core.huber_loss_forward(x, t, delta=2.0, reduction="none"), [0, 2, 4, 0.125]
    )


@pytest.mark.parametrize(("name", "kw"), POINTWISE, ids=POINTWISE_IDS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_pointwise_loss_matches_torch(rng, dtype, name, kw, reduction):
    torch = pytest.importorskip("torch")
    x = (rng.standard_normal((7, 6)) * 2).astype(dtype)
    t = rng.standard_normal((7, 6)).astype(dtype)
    tx = torch.from_numpy(x.copy()).requires_grad_()
    tl = getattr(torch.nn.functional, name)(tx, torch.from_numpy(t), reduction=reduction, **kw)
    g = grad_loss_for(rng, tl.detach().numpy(), dtype)
    (tgx,) = torch.autograd.grad(tl, tx, torch.from_numpy(g))
    assert_close(pw_fwd(name, x, t, kw, reduction), tl.detach().numpy(), **tol(dtype))
    assert_close(pw_bwd(name, g, x, t, kw, reduction), tgx.numpy(), **tol(dtype))


def test_pointwise_loss_errors():
    x = np.zeros((3, 4), np.float32)
    with pytest.raises(
        ValueError,
        match=r"mse_loss_forward: `reduction` must be 'mean', 'sum' or "
        r"'none', got 'max'",
    ):
        _core.mse_loss_forward(x, x, reduction="max")
    with pytest.raises(
        ValueError,
        match=r"l1_loss_forward: `target` must have shape \(3, 4\), "
        r"got \(3, 1\)",
    ):
        _core.l1_loss_forward(x, np.zeros((3, 1), np.float32))
    with pytest.raises(TypeError, match=r"huber_loss_forward: `target` must have dtype float32"):
        _core.huber_loss_forward(x, np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"huber_loss_forward: `delta` must be positive, got 0"):
        _core.huber_loss_forward(x, x, delta=0.0)
    with pytest.raises(ValueError, match=r"huber_loss_backward: `delta` must be positive, got -1"):
        _core.huber_loss_backward(np.array(1.0, np.float32), x, x, delta=-1.0)
    with pytest.raises(
        ValueError,
        match=r"mse_loss_backward: `grad_loss` must be 0-d for "
        r"reduction='sum'",
    ):
        _core.mse_loss_backward(np.ones(1, np.float32), x, x, reduction="sum")
    with pytest.raises(TypeError, match=r"mse_loss_forward: `input` must be a numpy.ndarray"):
        _core.mse_loss_forward(1.0, x)
