"""dlx.nn.functional losses and loss modules: gradcheck, values vs dlx.reference and torch."""

from __future__ import annotations

import json

import numpy as np
import pytest
from dlx_testing import assert_close

import dlx
from dlx import nn, reference
from dlx.nn import functional as F

REDUCTIONS = ["mean", "sum", "none"]


def t64(a, grad=True):
    return dlx.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def labels(rng, shape, c, ignore_index=-100, ignored=0.0):
    t = rng.integers(0, c, shape).astype(np.int64)
    t[rng.random(shape) < ignored] = ignore_index
    return t


def probs(rng, shape, axis=1):
    p = rng.random(shape) + 0.1
    return p / p.sum(axis=axis, keepdims=True)


# ---- cross_entropy ---------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_gradcheck_class_indices(rng, reduction, smoothing, weighted):
    x = t64(rng.standard_normal((5, 4)))
    t = dlx.tensor(labels(rng, 5, 4, ignored=0.3))
    w = rng.random(4) + 0.5 if weighted else None
    fn = lambda x: F.cross_entropy(x, t, w, reduction=reduction, label_smoothing=smoothing)
    assert dlx.gradcheck(fn, (x,))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_gradcheck_probability_targets(rng, reduction, smoothing):
    x = t64(rng.standard_normal((3, 4)))
    p = t64(probs(rng, (3, 4)))
    w = rng.random(4) + 0.5
    fn = lambda x, p: F.cross_entropy(x, p, w, reduction=reduction, label_smoothing=smoothing)
    assert dlx.gradcheck(fn, (x, p))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 3, 2, 3), (1, 4, 1)])
def test_cross_entropy_gradcheck_higher_dims(rng, reduction, shape):
    x = t64(rng.standard_normal(shape))
    t = dlx.tensor(labels(rng, (shape[0], *shape[2:]), shape[1], ignored=0.2))
    out = F.cross_entropy(x, t, reduction=reduction)
    assert out.shape == (t.shape if reduction == "none" else ())
    assert dlx.gradcheck(lambda x: F.cross_entropy(x, t, reduction=reduction), (x,))
    p = t64(probs(rng, shape))
    assert dlx.gradcheck(lambda x, p: F.cross_entropy(x, p, reduction=reduction), (x, p))


def test_cross_entropy_unbatched(rng):
    x = rng.standard_normal(5)
    out = F.cross_entropy(t64(x), dlx.tensor(np.int64(2)), reduction="none")
    assert out.shape == ()
    assert_close(out.numpy(), -reference.log_softmax_forward(x[None], axis=1)[0, 2])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_matches_reference(rng, dtype, reduction):
    x = rng.standard_normal((7, 5)).astype(dtype)
    t = labels(rng, 7, 5, ignore_index=1, ignored=0.3)
    w = (rng.random(5) + 0.5).astype(dtype)
    got = F.cross_entropy(dlx.tensor(x), dlx.tensor(t), w, 1, reduction, 0.1)
    want, _ = reference.cross_entropy_forward(x, t, w, 1, 0.1, reduction)
    assert got.dtype == dtype
    assert_close(got.numpy(), want, atol=1e-6)


def test_cross_entropy_empty_batch(dtype):
    x = dlx.tensor(np.zeros((0, 3), dtype), requires_grad=True)
    t = dlx.tensor(np.zeros(0, np.int64))
    assert F.cross_entropy(x, t, reduction="none").shape == (0,)
    assert F.cross_entropy(x, t, reduction="sum").item() == 0
    assert np.isnan(F.cross_entropy(x, t).item())


def test_cross_entropy_errors():
    x = dlx.tensor(np.zeros((4, 3), np.float32))
    with pytest.raises(
        ValueError, match=r"cross_entropy: `target` has shape \(5,\) but `input` has batch size 4"
    ):
        F.cross_entropy(x, dlx.tensor(np.zeros(5, np.int64)))
    with pytest.raises(ValueError, match="`target` contains class 3, outside"):
        F.cross_entropy(x, dlx.tensor(np.array([0, 1, 2, 3])))
    with pytest.raises(ValueError, match="`target` must have shape"):
        F.cross_entropy(dlx.zeros(2, 3, 4), dlx.tensor(np.zeros((2, 5), np.int64)))
    with pytest.raises(TypeError, match="integer dtype"):
        F.cross_entropy(x, dlx.zeros(4))
    with pytest.raises(ValueError, match="`reduction` must be 'mean', 'sum' or 'none'"):
        F.cross_entropy(x, dlx.tensor(np.zeros(4, np.int64)), reduction="avg")
    with pytest.raises(ValueError, match="`label_smoothing` must be in"):
        F.cross_entropy(x, dlx.tensor(np.zeros(4, np.int64)), label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"`weight` must have shape \(3,\)"):
        F.cross_entropy(x, dlx.tensor(np.zeros(4, np.int64)), weight=np.ones(2))
    with pytest.raises(TypeError, match="`input` must be float32 or float64"):
        F.cross_entropy(dlx.tensor(np.zeros((4, 3), np.int64)), dlx.tensor(np.zeros(4, np.int64)))
    with pytest.raises(ValueError, match="class axis"):
        F.cross_entropy(dlx.tensor(np.float32(1)), dlx.tensor(np.int64(0)))


# ---- nll_loss --------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 2, 2)])
def test_nll_loss_gradcheck(rng, reduction, weighted, shape):
    x = t64(rng.standard_normal(shape))
    t = dlx.tensor(labels(rng, (shape[0], *shape[2:]), shape[1], ignored=0.3))
    w = rng.random(shape[1]) + 0.5 if weighted else None
    assert dlx.gradcheck(lambda x: F.nll_loss(x, t, w, reduction=reduction), (x,))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_of_log_softmax_equals_cross_entropy(rng, dtype, reduction):
    x = rng.standard_normal((6, 4)).astype(dtype)
    t = labels(rng, 6, 4, ignored=0.3)
    w = (rng.random(4) + 0.5).astype(dtype)
    lp = dlx.tensor(reference.log_softmax_forward(x, axis=1))
    got = F.nll_loss(lp, dlx.tensor(t), w, reduction=reduction)
    want = F.cross_entropy(dlx.tensor(x), dlx.tensor(t), w, reduction=reduction)
    assert got.dtype == dtype
    assert_close(got.numpy(), want.numpy(), atol=1e-6)


def test_nll_loss_errors():
    with pytest.raises(
        TypeError, match="nll_loss: class-index `target` must have an integer dtype"
    ):
        F.nll_loss(dlx.zeros(4, 3), dlx.zeros(4, 3))
    with pytest.raises(ValueError, match="nll_loss: `target` has shape"):
        F.nll_loss(dlx.zeros(4, 3), dlx.tensor(np.zeros(3, np.int64)))


# ---- elementwise losses ----------------------------------------------------------------

POINTWISE = {
    "mse": (F.mse_loss, reference.mse_loss_forward),
    "l1": (F.l1_loss, reference.l1_loss_forward),
    "huber": (F.huber_loss, reference.huber_loss_forward),
}


@pytest.mark.parametrize("kind", list(POINTWISE))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(3, 4), (5,), ()])
def test_pointwise_loss_gradcheck_input_and_target(rng, kind, reduction, shape):
    fn = POINTWISE[kind][0]
    x = t64(rng.standard_normal(shape) * 2)
    y = t64(rng.standard_normal(shape) * 2)
    assert dlx.gradcheck(lambda x, y: fn(x, y, reduction=reduction), (x, y))


@pytest.mark.parametrize("kind", list(POINTWISE))
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_pointwise_loss_matches_reference(rng, dtype, kind, reduction):
    fn, ref = POINTWISE[kind]
    x = rng.standard_normal((4, 5)).astype(dtype)
    y = rng.standard_normal((4, 5)).astype(dtype)
    got = fn(dlx.tensor(x), dlx.tensor(y), reduction=reduction)
    assert_close(got.numpy(), ref(x, y, reduction=reduction), atol=1e-6)


def test_huber_loss_delta(rng):
    x, y = t64(rng.standard_normal(6) * 3), t64(rng.standard_normal(6))
    got = F.huber_loss(x, y, delta=0.5)
    assert_close(got.numpy(), reference.huber_loss_forward(x.numpy(), y.numpy(), 0.5))
    assert dlx.gradcheck(lambda x, y: F.huber_loss(x, y, "sum", 0.5), (x, y))
    with pytest.raises(ValueError, match="huber_loss: `delta` must be positive, got 0"):
        F.huber_loss(x, y, delta=0)


def test_pointwise_loss_errors():
    with pytest.raises(
        ValueError, match=r"mse_loss: `target` has shape \(3,\) but `input` has shape \(4,\)"
    ):
        F.mse_loss(dlx.zeros(4), dlx.zeros(3))
    with pytest.raises(ValueError, match="l1_loss: `reduction`"):
        F.l1_loss(dlx.zeros(4), dlx.zeros(4), reduction="mean ")


def test_pointwise_loss_integer_target_is_cast(dtype):
    x = dlx.tensor(np.array([0.5, 2.0], dtype))
    assert_close(F.mse_loss(x, np.array([1, 2])).numpy(), 0.125)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos", [None, "shared", "per_class"])
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_with_logits_gradcheck(rng, reduction, pos, weighted):
    x = t64(rng.standard_normal((3, 4)) * 3)
    t = t64(rng.random((3, 4)))
    pw = {None: None, "shared": t64([1.5]), "per_class": t64(rng.random(4) + 0.5)}[pos]
    w = t64(rng.random(4) + 0.5) if weighted else None

    def fn(x, t, *rest):
        return F.binary_cross_entropy_with_logits(x, t, w, reduction, pw)

    inputs = [x, t] + ([pw] if pw is not None else []) + ([w] if w is not None else [])
    assert dlx.gradcheck(fn, inputs)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_matches_reference(rng, dtype, reduction):
    x = (rng.standard_normal((5, 3)) * 4).astype(dtype)
    t = rng.integers(0, 2, (5, 3)).astype(dtype)
    pw = (rng.random(3) + 0.5).astype(dtype)
    got = F.binary_cross_entropy_with_logits(dlx.tensor(x), dlx.tensor(t), None, reduction, pw)
    assert_close(got.numpy(), reference.bce_with_logits_forward(x, t, pw, reduction), atol=1e-6)


def test_bce_with_logits_errors():
    with pytest.raises(ValueError, match=r"`pos_weight` must have shape \(1,\) or \(4,\)"):
        F.binary_cross_entropy_with_logits(dlx.zeros(2, 4), dlx.zeros(2, 4), pos_weight=dlx.ones(3))
    with pytest.raises(ValueError, match="`weight` of shape"):
        F.binary_cross_entropy_with_logits(dlx.zeros(2, 4), dlx.zeros(2, 4), weight=dlx.ones(3))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_gradcheck(rng, reduction, weighted):
    x = t64(rng.random((3, 4)) * 0.8 + 0.1)
    t = t64(rng.random((3, 4)))
    w = rng.random((1, 4)) + 0.5 if weighted else None
    fn = lambda x, t: F.binary_cross_entropy(x, t, w, reduction)
    assert dlx.gradcheck(fn, (x, t))


def test_binary_cross_entropy_matches_logits_version(rng, dtype):
    z = rng.standard_normal((4, 3)).astype(dtype)
    t = rng.random((4, 3)).astype(dtype)
    p = (1 / (1 + np.exp(-z))).astype(dtype)
    got = F.binary_cross_entropy(dlx.tensor(p), dlx.tensor(t))
    want = F.binary_cross_entropy_with_logits(dlx.tensor(z), dlx.tensor(t))
    assert_close(got.numpy(), want.numpy(), rtol=1e-4 if dtype == np.float32 else 1e-9)


def test_binary_cross_entropy_clamps_log_at_minus_100():
    x = dlx.tensor(np.array([0.0, 1.0, 0.0]), requires_grad=True)
    t = dlx.tensor(np.array([1.0, 0.0, 0.0]))
    loss = F.binary_cross_entropy(x, t, reduction="none")
    np.testing.assert_array_equal(loss.numpy(), [100.0, 100.0, 0.0])
    loss.sum().backward()
    assert np.isfinite(x.grad).all()


def test_binary_cross_entropy_errors():
    with pytest.raises(
        ValueError, match=r"binary_cross_entropy: `input` must hold probabilities in \[0, 1\]"
    ):
        F.binary_cross_entropy(dlx.tensor([0.5, 1.5]), dlx.tensor([0.0, 1.0]))


# ---- modules ---------------------------------------------------------------------------

MODULES = [
    (nn.CrossEntropyLoss, {"weight": [1.0, 2.0, 0.5], "ignore_index": 1, "label_smoothing": 0.1}),
    (nn.NLLLoss, {"weight": [1.0, 2.0, 0.5], "ignore_index": 0, "reduction": "sum"}),
    (nn.BCEWithLogitsLoss, {"pos_weight": [2.0, 1.0, 0.5], "reduction": "none"}),
    (nn.BCELoss, {"weight": [1.0, 2.0, 0.5]}),
    (nn.MSELoss, {"reduction": "sum"}),
    (nn.L1Loss, {}),
    (nn.HuberLoss, {"delta": 0.5}),
]


@pytest.mark.parametrize(("cls", "kwargs"), MODULES, ids=[m[0].__name__ for m in MODULES])
def test_loss_module_get_config_roundtrip(rng, cls, kwargs):
    loss = cls(**kwargs)
    cfg = json.loads(json.dumps(loss.get_config()))
    again = cls(**cfg)
    assert again.get_config() == loss.get_config()
    for k, v in kwargs.items():
        assert cfg[k] == v
    assert cls.__name__ in repr(loss)
    x = rng.random((4, 3)).astype(np.float32)
    if cls in (nn.CrossEntropyLoss, nn.NLLLoss):
        t = labels(rng, 4, 3)
    else:
        t = rng.random((4, 3)).astype(np.float32)
    assert_close(loss(x, t).numpy(), again(x, t).numpy())


def test_loss_module_matches_functional(rng):
    x = t64(rng.standard_normal((4, 3)))
    t = dlx.tensor(labels(rng, 4, 3))
    m = nn.CrossEntropyLoss(weight=[1.0, 2.0, 3.0], label_smoothing=0.2, reduction="sum")
    want = F.cross_entropy(x, t, np.array([1.0, 2.0, 3.0]), reduction="sum", label_smoothing=0.2)
    assert_close(m(x, t).numpy(), want.numpy())
    assert "label_smoothing=0.2" in repr(m)


def test_loss_module_errors():
    with pytest.raises(ValueError, match="`reduction` must be"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="`delta` must be positive"):
        nn.HuberLoss(delta=-1)
    with pytest.raises(ValueError, match="`label_smoothing`"):
        nn.CrossEntropyLoss(label_smoothing=2)


# ---- PyTorch oracle --------------------------------------------------------------------


def _torch_pair(torch, fn_dlx, fn_torch, arrays, grad_idx):
    dl = [dlx.tensor(a, requires_grad=i in grad_idx) for i, a in enumerate(arrays)]
    th = [torch.tensor(a, requires_grad=i in grad_idx) for i, a in enumerate(arrays)]
    out_d, out_t = fn_dlx(*dl), fn_torch(*th)
    assert_close(out_d.numpy(), out_t.detach().numpy(), rtol=1e-4, atol=1e-5)
    g = np.random.default_rng(1).standard_normal(out_d.shape).astype(out_d.dtype)
    out_d.backward(g)
    out_t.backward(torch.tensor(g))
    for i in grad_idx:
        assert_close(dl[i].grad, th[i].grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_losses_match_torch(rng, dtype, reduction):
    torch = pytest.importorskip("torch")
    TF = torch.nn.functional
    x = rng.standard_normal((4, 3, 2)).astype(dtype)
    idx = labels(rng, (4, 2), 3, ignored=0.3)
    p = probs(rng, (4, 3, 2)).astype(dtype)
    w = (rng.random(3) + 0.5).astype(dtype)
    y = rng.standard_normal((4, 3, 2)).astype(dtype)
    r = reduction
    _torch_pair(
        torch,
        lambda a: F.cross_entropy(a, idx, w, reduction=r, label_smoothing=0.1),
        lambda a: TF.cross_entropy(
            a, torch.tensor(idx), torch.tensor(w), reduction=r, label_smoothing=0.1
        ),
        [x],
        {0},
    )
    _torch_pair(
        torch,
        lambda a, b: F.cross_entropy(a, b, w, reduction=r, label_smoothing=0.1),
        lambda a, b: TF.cross_entropy(a, b, torch.tensor(w), reduction=r, label_smoothing=0.1),
        [x, p],
        {0, 1},
    )
    _torch_pair(
        torch,
        lambda a: F.nll_loss(a, idx, w, reduction=r),
        lambda a: TF.nll_loss(a, torch.tensor(idx), torch.tensor(w), reduction=r),
        [x],
        {0},
    )
    pw = (rng.random(2) + 0.5).astype(dtype)
    bw = (rng.random(2) + 0.5).astype(dtype)
    t01 = rng.random((4, 3, 2)).astype(dtype)
    _torch_pair(
        torch,
        lambda a, b, c: F.binary_cross_entropy_with_logits(a, b, bw, r, c),
        lambda a, b, c: TF.binary_cross_entropy_with_logits(
            a, b, torch.tensor(bw), reduction=r, pos_weight=c
        ),
        [x, t01, pw],
        {0, 1},
    )
    sig = (1 / (1 + np.exp(-x))).astype(dtype)
    _torch_pair(
        torch,
        lambda a, b: F.binary_cross_entropy(a, b, reduction=r),
        lambda a, b: TF.binary_cross_entropy(a, b, reduction=r),
        [sig, t01],
        {0, 1},
    )
    for ours, theirs in [(F.mse_loss, TF.mse_loss), (F.l1_loss, TF.l1_loss)]:
        _torch_pair(
            torch,
            lambda a, b, f=ours: f(a, b, reduction=r),
            lambda a, b, f=theirs: f(a, b, reduction=r),
            [x, y],
            {0, 1},
        )
    _torch_pair(
        torch,
        lambda a, b: F.huber_loss(a, b, r, 0.7),
        lambda a, b: TF.huber_loss(a, b, reduction=r, delta=0.7),
        [x, y],
        {0, 1},
    )
