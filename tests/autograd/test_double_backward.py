"""Second derivatives: gradgradcheck on every op that claims double backward, and
Hessian-vector products against finite differences and PyTorch."""

from __future__ import annotations

import numpy as np
import pytest
from tensor_ops_cases import TENSOR_CASES

import dlx
import dlx.autograd.function
import dlx.nn.functional as F
from dlx._ops.activation import MaxoutGather
from dlx.autograd import functional as AF
from dlx.autograd import gradgradcheck
from dlx.nn.functional._pool import MaxPoolGather

R = np.random.default_rng(1234)


def t(shape, low=-1.0, high=1.0, grad=True):
    """A float64 tensor with values in [low, high] (kept away from kinks by the caller)."""
    return dlx.tensor(R.uniform(low, high, shape), requires_grad=grad)


def away(shape, gap=0.2, scale=1.0):
    """Values with |x| in [gap, scale]: no kink of relu/abs/l1 at 0 in reach of eps."""
    v = R.uniform(gap, scale, shape) * R.choice([-1.0, 1.0], shape)
    return dlx.tensor(v, requires_grad=True)


def distinct(shape):
    """A permutation of well-separated values (no ties for max/min/maxout/pooling)."""
    n = int(np.prod(shape))
    return dlx.tensor(R.permutation(np.linspace(-1, 1, n)).reshape(shape), requires_grad=True)


def seeded(fn):
    def run(*args):
        dlx.manual_seed(0)
        return fn(*args)

    return run


# name -> (fn, inputs)
CASES = {
    "add_broadcast": (lambda a, b: a + b, lambda: (t((2, 3)), t((3,)))),
    "sub_broadcast": (lambda a, b: (a - b) * a, lambda: (t((2, 3)), t((2, 1)))),
    "mul": (lambda a, b: a * b * a, lambda: (t((2, 3)), t((2, 3)))),
    "mul_scalar": (lambda a: a * 2.5 * a, lambda: (t((4,)),)),
    "div": (lambda a, b: a / b, lambda: (t((3,)), t((3,), 0.5, 2.0))),
    "pow_tensor": (lambda a, b: a**b, lambda: (t((3,), 0.5, 2.0), t((3,), -1.0, 2.0))),
    "pow_scalar": (lambda a: a**3 + a**0.5, lambda: (t((3,), 0.5, 2.0),)),
    "rpow": (lambda a: 2.0**a, lambda: (t((3,)),)),
    "neg_exp": (lambda a: (-a).exp() * a, lambda: (t((3,)),)),
    "log": (lambda a: a.log() * a, lambda: (t((3,), 0.5, 2.0),)),
    "sqrt": (lambda a: a.sqrt() * a, lambda: (t((3,), 0.5, 2.0),)),
    "abs": (lambda a: a.abs() * a, lambda: (away((4,)),)),
    "clamp": (lambda a: a.clamp(-0.5, 0.5) * a, lambda: (away((6,), 0.05, 0.45),)),
    "maximum": (
        lambda a, b: dlx.maximum(a, b) * a,
        lambda: (
            distinct((4,)),
            dlx.tensor(R.permutation([-0.9, -0.3, 0.3, 0.9]), requires_grad=True),
        ),
    ),
    "where": (lambda a, b: dlx.where(a.numpy() > 0, a * a, b * a), lambda: (away((4,)), t((4,)))),
    "sum_axis": (lambda a: (a.sum(1) ** 2).sum(), lambda: (t((2, 3)),)),
    "mean_keepdim": (lambda a: a * a.mean(0, keepdim=True), lambda: (t((2, 3)),)),
    "amax": (lambda a: a.amax(1) * a.sum(1), lambda: (distinct((2, 3)),)),
    "var": (lambda a: a.var(1), lambda: (t((2, 4)),)),
    "std": (lambda a: a.std(), lambda: (t((5,)),)),
    "reshape_permute": (lambda a: (a.reshape(3, 2).permute(1, 0) * a) ** 2, lambda: (t((2, 3)),)),
    "transpose_expand": (lambda a: a.T.expand(2, 3, 2) * a.T, lambda: (t((2, 3)),)),
    "index_slices": (lambda a: a[1:, ::2] * a[:1, :2], lambda: (t((3, 4)),)),
    "index_repeated": (lambda a: a[[0, 2, 0]] ** 2, lambda: (t((3, 2)),)),
    "cat_stack": (
        lambda a, b: dlx.cat([a, b * a]) * dlx.stack([a, b]).sum(0).reshape(-1).sum(),
        lambda: (t((2,)), t((2,))),
    ),
    "matmul_2d": (lambda a, b: a @ b @ b.T, lambda: (t((2, 3)), t((3, 2)))),
    "matmul_1d": (lambda a, b: (a @ b) * (a @ a), lambda: (t((3,)), t((3, 2)))),
    "matmul_batched": (lambda a, b: a @ b, lambda: (t((2, 2, 3)), t((3, 2)))),
    "clone": (lambda a: a.clone() * a, lambda: (t((3,)),)),
    "maxpool_gather": (
        lambda a: MaxPoolGather.apply(a, idx=np.array([[[[0, 3], [2, 1]]]])) ** 2,
        lambda: (t((1, 1, 2, 2)),),
    ),
    "maxout_gather": (
        lambda a: MaxoutGather.apply(a, idx=np.array([[1, 0]]), pieces=2) ** 2,
        lambda: (t((1, 4)),),
    ),
    "squeeze_unsqueeze": (lambda a: a.unsqueeze(0).squeeze(0) * a, lambda: (t((3,)),)),
    "softmax": (lambda a: F.softmax(a, dim=1) * a, lambda: (t((2, 3)),)),
    "log_softmax": (lambda a: F.log_softmax(a, dim=0) * a, lambda: (t((3, 2)),)),
    "relu": (lambda a: F.relu(a) * a, lambda: (away((4,)),)),
    "leaky_relu": (lambda a: F.leaky_relu(a, 0.1) * a, lambda: (away((4,)),)),
    "abs_relu": (lambda a: F.abs_relu(a) * a, lambda: (away((4,)),)),
    "hardtanh": (lambda a: F.hardtanh(a, -0.5, 0.5) * a, lambda: (away((6,), 0.05, 0.45),)),
    "elu": (lambda a: F.elu(a, 0.7), lambda: (away((4,)),)),
    "gelu": (lambda a: F.gelu(a), lambda: (t((5,), -2.0, 2.0),)),
    "gelu_tanh": (lambda a: F.gelu(a, approximate="tanh"), lambda: (t((5,), -2.0, 2.0),)),
    "silu": (lambda a: F.silu(a), lambda: (t((5,), -2.0, 2.0),)),
    "sigmoid": (lambda a: F.sigmoid(a), lambda: (t((5,), -2.0, 2.0),)),
    "tanh": (lambda a: F.tanh(a), lambda: (t((5,), -2.0, 2.0),)),
    "softplus": (lambda a: F.softplus(a, beta=2.0), lambda: (t((5,), -2.0, 2.0),)),
    "prelu": (lambda a, w: F.prelu(a, w) * a, lambda: (away((2, 3, 2)), t((3,)))),
    "maxout": (lambda a: F.maxout(a, 2) ** 2, lambda: (distinct((2, 4, 2)),)),
    "linear": (lambda x, w, b: F.linear(x, w, b).tanh(), lambda: (t((2, 3)), t((2, 3)), t((2,)))),
    "conv2d": (
        lambda x, w, b: F.conv2d(x, w, b, padding=1).tanh(),
        lambda: (t((1, 2, 3, 3)), t((2, 2, 2, 2)), t((2,))),
    ),
    "conv2d_strided_grouped": (
        lambda x, w: F.conv2d(x, w, stride=2, groups=2, dilation=1) ** 2,
        lambda: (t((1, 2, 4, 4)), t((2, 1, 2, 2))),
    ),
    "conv2d_same_odd": (
        lambda x, w: F.conv2d(x, w, padding="same") ** 2,
        lambda: (t((1, 1, 3, 3)), t((1, 1, 2, 2))),
    ),
    "sdpa_fused_causal": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        lambda: (t((2, 3, 2)), t((2, 3, 2)), t((2, 3, 2))),
    ),
    "unfold": (lambda x: F.unfold(x, 2, padding=1) ** 2, lambda: (t((1, 2, 3, 3)),)),
    "fold": (lambda c: F.fold(c, (3, 3), 2) ** 2, lambda: (t((1, 4, 4)),)),
    "max_pool2d": (lambda x: F.max_pool2d(x, 2) ** 2, lambda: (distinct((1, 2, 4, 4)),)),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 2, 1, padding=1) ** 2, lambda: (t((1, 1, 3, 3)),)),
    "batch_norm_train": (
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        lambda: (t((4, 2)), t((2,)), t((2,))),
    ),
    "batch_norm_train_4d": (
        lambda x, w: F.batch_norm(x, None, None, w, None, training=True).tanh(),
        lambda: (t((2, 2, 2, 1)), t((2,))),
    ),
    "batch_norm_eval": (
        lambda x, w: (
            F.batch_norm(
                x, dlx.tensor(np.zeros(2)), dlx.tensor(np.ones(2) * 2), w, None, training=False
            )
            ** 2
        ),
        lambda: (t((3, 2)), t((2,))),
    ),
    "layer_norm": (
        lambda x, w, b: F.layer_norm(x, (2, 3), w, b).tanh(),
        lambda: (t((2, 2, 3)), t((2, 3)), t((2, 3))),
    ),
    "rms_norm": (lambda x, w: F.rms_norm(x, 3, w) ** 2, lambda: (t((2, 3)), t((3,)))),
    "group_norm": (
        lambda x, w, b: F.group_norm(x, 2, w, b).tanh(),
        lambda: (t((2, 4, 2)), t((4,)), t((4,))),
    ),
    "dropout": (seeded(lambda x: F.dropout(x, 0.4) ** 2), lambda: (t((6,)),)),
    "cross_entropy": (
        lambda x: F.cross_entropy(x, dlx.tensor(np.array([0, 2, 1]))),
        lambda: (t((3, 3)),),
    ),
    "cross_entropy_weighted_smooth_ignore": (
        lambda x: F.cross_entropy(
            x,
            dlx.tensor(np.array([0, -1, 2, 1])),
            weight=dlx.tensor(np.array([0.5, 1.0, 2.0])),
            ignore_index=-1,
            label_smoothing=0.2,
        ),
        lambda: (t((4, 3)),),
    ),
    "cross_entropy_probabilities": (
        lambda x, p: F.cross_entropy(x, p, reduction="sum"),
        lambda: (t((2, 3)), t((2, 3), 0.1, 0.9)),
    ),
    "cross_entropy_none_4d": (
        lambda x: F.cross_entropy(x, dlx.tensor(np.array([[[0, 1]], [[1, 1]]])), reduction="none"),
        lambda: (t((2, 2, 1, 2)),),
    ),
    "nll_loss": (
        lambda x: F.nll_loss(F.log_softmax(x, 1), dlx.tensor(np.array([1, 0])), reduction="sum"),
        lambda: (t((2, 3)),),
    ),
    "bce_with_logits": (
        lambda x, y, p: F.binary_cross_entropy_with_logits(x, y, pos_weight=p),
        lambda: (t((2, 3)), t((2, 3), 0.0, 1.0), t((3,), 0.5, 2.0)),
    ),
    "bce_with_logits_weighted": (
        lambda x: F.binary_cross_entropy_with_logits(
            x, dlx.tensor(np.array([1.0, 0.0, 1.0])), weight=dlx.tensor(np.array([1.0, 2.0, 0.5]))
        ),
        lambda: (t((3,)),),
    ),
    "bce": (
        lambda x, y: F.binary_cross_entropy(x, y),
        lambda: (t((4,), 0.1, 0.9), t((4,), 0.0, 1.0)),
    ),
    "mse": (lambda x, y: F.mse_loss(x, y) * F.mse_loss(x, y), lambda: (t((3,)), t((3,)))),
    "l1": (lambda x: F.l1_loss(x, dlx.tensor(np.zeros(4))) * x.sum(), lambda: (away((4,)),)),
    "huber": (
        lambda x: F.huber_loss(x, dlx.tensor(np.zeros(6)), delta=0.5, reduction="sum"),
        lambda: (dlx.tensor(np.array([0.1, -0.2, 0.3, 0.8, -0.9, 1.2]), requires_grad=True),),
    ),
    "gaussian_mixture_nll": (
        lambda pi, mu, s, y: F.gaussian_mixture_nll(pi, mu, s, y),
        lambda: (t((2, 2)), t((2, 2, 1)), t((2, 2, 1)), t((2, 1), grad=False)),
    ),
    "gaussian_nll": (
        lambda x, v: F.gaussian_nll_loss(x, dlx.tensor(np.zeros((3, 2))), v, reduction="sum"),
        lambda: (t((3, 2)), t((3, 2), 0.5, 2.0)),
    ),
}

CASES.update(TENSOR_CASES)  # the Tensor-surface ops (issue 15)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradgradcheck(name):
    fn, make = CASES[name]
    gradgradcheck(fn, make(), atol=1e-5, rtol=1e-3)


def test_gradgradcheck_detects_a_wrong_second_derivative():
    from dlx.autograd import Function, GradcheckError

    class BadSquare(Function):
        double_backward = True

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            if isinstance(g, np.ndarray):
                return g * 2 * x
            return g * 2 * x.detach()  # drops d/dx of the gradient: a wrong second derivative

    with pytest.raises(GradcheckError):
        gradgradcheck(lambda a: BadSquare.apply(a), [t((3,))])


# -- functional API ---------------------------------------------------------------------------
def _f(x):
    return (x**3).sum() + (x[0] * x[1]).exp() + (x * x).sum() * x[2]


def test_hessian_matches_finite_differences():
    x = t((3,))
    h = AF.hessian(_f, x).numpy()
    eps = 1e-5
    num = np.zeros((3, 3))
    for j in range(3):
        xp, xm = x.numpy().copy(), x.numpy().copy()
        xp[j] += eps
        xm[j] -= eps
        gp = AF.vjp(_f, dlx.tensor(xp))[1].numpy()
        gm = AF.vjp(_f, dlx.tensor(xm))[1].numpy()
        num[:, j] = (gp - gm) / (2 * eps)
    np.testing.assert_allclose(h, num, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(h, h.T, rtol=1e-12)


def test_hvp_vhp_jvp_jacobian_agree():
    x = t((3,))
    v = dlx.tensor(R.standard_normal(3))
    h = AF.hessian(_f, x).numpy()
    _, hv = AF.hvp(_f, x, v)
    np.testing.assert_allclose(hv.numpy(), h @ v.numpy(), rtol=1e-10)
    _, vh = AF.vhp(_f, x, v)
    np.testing.assert_allclose(vh.numpy(), v.numpy() @ h, rtol=1e-10)

    def g(a):
        return (a.exp() * a[0]).tanh()

    jac = AF.jacobian(g, x).numpy()
    _, jv = AF.jvp(g, x, v)
    np.testing.assert_allclose(jv.numpy(), jac @ v.numpy(), rtol=1e-10)
    _, vj = AF.vjp(g, x, v)
    np.testing.assert_allclose(vj.numpy(), v.numpy() @ jac, rtol=1e-10)


def test_functional_with_several_inputs_and_create_graph():
    a, b = t((2,)), t((2,))

    def f(p, q):
        return (p * q * q).sum()

    (haa, hab), (_hba, hbb) = AF.hessian(f, (a, b))
    np.testing.assert_allclose(haa.numpy(), np.zeros((2, 2)))
    np.testing.assert_allclose(hab.numpy(), np.diag(2 * b.numpy()))
    np.testing.assert_allclose(hbb.numpy(), np.diag(2 * a.numpy()))
    _out, (ga, gb) = AF.vjp(f, (a, b), create_graph=True)
    assert ga.requires_grad
    assert gb.requires_grad


def test_functional_argument_errors():
    with pytest.raises(ValueError, match="single-element"):
        AF.hessian(lambda x: x * 2, t((2,)))
    with pytest.raises(ValueError, match=r"`v\[0\]` must have shape \(2,\)"):
        AF.hvp(lambda x: (x * x).sum(), t((2,)), dlx.tensor(np.ones(3)))
    with pytest.raises(TypeError, match="must return a Tensor"):
        AF.jacobian(lambda x: 3.0, t((2,)))


# -- PyTorch oracle -------------------------------------------------------------------------
def _mlp_loss(lib, x, y, w1, b1, w2):
    h = lib.tanh(x @ w1 + b1)
    return ((h @ w2 - y) ** 2).mean()


@pytest.mark.torch
def test_hvp_of_mlp_loss_matches_torch():
    torch = pytest.importorskip("torch")
    x, y = R.standard_normal((5, 3)), R.standard_normal((5, 1))
    params = [R.standard_normal(s) * 0.5 for s in ((3, 4), (4,), (4, 1))]
    vs = [R.standard_normal(p.shape) for p in params]
    dx, dy = dlx.tensor(x), dlx.tensor(y)
    _, dhv = AF.hvp(
        lambda *p: _mlp_loss(dlx, dx, dy, *p),
        tuple(dlx.tensor(p) for p in params),
        tuple(dlx.tensor(v) for v in vs),
    )
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    _, thv = torch.autograd.functional.hvp(
        lambda *p: _mlp_loss(torch, tx, ty, *p),
        tuple(torch.from_numpy(p) for p in params),
        tuple(torch.from_numpy(v) for v in vs),
    )
    for a, b in zip(dhv, thv, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.torch
def test_gradient_penalty_matches_torch():
    torch = pytest.importorskip("torch")
    x = R.standard_normal((4, 3))
    w, b = R.standard_normal((2, 3)), R.standard_normal(2)

    def penalty(lib, fn_grad, xx, ww, bb):
        out = lib.nn.functional.linear(xx, ww, bb)
        out = lib.nn.functional.softplus(out).sum()
        (g,) = fn_grad(out, xx, create_graph=True)
        return (g * g).sum()

    dx, dw, db = (dlx.tensor(a, requires_grad=True) for a in (x, w, b))
    penalty(dlx, dlx.autograd.grad, dx, dw, db).backward()
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    penalty(torch, torch.autograd.grad, tx, tw, tb).backward()
    for d, tt in ((dw, tw), (db, tb)):
        np.testing.assert_allclose(d.grad.numpy(), tt.grad.numpy(), rtol=1e-9, atol=1e-12)


def _node_classes(tensors):
    """Classes of every node reachable from ``tensors``."""
    seen, stack, classes = set(), [t.grad_fn for t in tensors if t.grad_fn is not None], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        classes.add(type(node))
        stack.extend(p for p in node.parents if isinstance(p, dlx.autograd.function.Function))
    return classes


def _all_subclasses(cls):
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub} | _all_subclasses(sub)
    return out


def test_every_double_backward_op_is_gradgradchecked():
    """Each Function of dlx that sets double_backward = True appears (forward or in its
    recorded backward) in the graphs of the cases above."""
    import dlx.nn.modules._hooks

    covered = set()
    for fn, make in CASES.values():
        args = make()
        outs = fn(*args)
        outs = outs if isinstance(outs, tuple) else (outs,)
        covered |= _node_classes(outs)
        leaves = [a for a in args if isinstance(a, dlx.Tensor) and a.requires_grad]
        grads = dlx.autograd.grad(
            [o.sum() for o in outs if o.requires_grad],
            leaves,
            create_graph=True,
            allow_unused=True,
        )
        covered |= _node_classes([g for g in grads if g is not None])
    claimed = {
        c
        for c in _all_subclasses(dlx.autograd.function.Function)
        if c.__module__.startswith("dlx.") and c.__dict__.get("double_backward", False)
    }
    # identity nodes of module backward hooks are exercised by the hook tests
    claimed -= {c for c in claimed if c.__module__ == "dlx.nn.modules._hooks"}
    missing = sorted(c.__qualname__ for c in claimed - covered)
    assert not missing, f"double-backward ops without a gradgradcheck case: {missing}"
