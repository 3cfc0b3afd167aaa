"""Property tests of the engine: random DAGs over the Tensor API, checked against central
differences (float64) and, when it is installed, against PyTorch.

A graph is a little program: leaves of a few small shapes (0-d included), then steps that
each apply an op to earlier values picked at random, so subexpressions are shared, leaves
are used many times, the same tensor can be both operands, and broadcasting, views
(reshape, transpose, slices, indexing) and 0-d results are common. The loss sums random
multiples of several values. Ops with kinks (relu, abs, max) only enter the PyTorch
comparison, where both sides use the same subgradient convention.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dlx

SHAPES = [(), (3,), (2, 3), (1, 3), (2, 1), (3, 1)]

# name: (arity, smooth) ; each op maps library values to a library value
UNARY = {
    "tanh": True,
    "sigmoid": True,
    "exp_tanh": True,
    "log1p_sq": True,
    "sqrt1p_sq": True,
    "square": True,
    "neg": True,
    "scale": True,
    "sum_all": True,
    "sum_last": True,
    "mean_first": True,
    "reshape_flat": True,
    "transpose": True,
    "unsqueeze": True,
    "index0": True,
    "slice": True,
    "repeat_rows": True,
    "pow3": True,
    "relu": False,
    "abs": False,
    "amax_last": False,
    # Tensor-surface ops and recorded in-place ops (issue 15)
    "sin": True,
    "cumsum_last": True,
    "prod_last": True,
    "logsumexp_last": True,
    "flip_first": True,
    "inplace_chain": True,
    "view_inplace": True,
    "setitem_first": True,
    "sort_last": False,
}
BINARY = {
    "add": True,
    "sub": True,
    "mul": True,
    "div": True,
    "matmul": True,
    "where": True,
    "maximum": False,
    "iadd_inplace": True,
    "copy_into_view": True,
}


def _unary(lib, name, x, np_mask=None):
    if name == "tanh":
        return x.tanh()
    if name == "sigmoid":
        return x.sigmoid()
    if name == "exp_tanh":
        return x.tanh().exp()
    if name == "log1p_sq":
        return (x * x + 1).log()
    if name == "sqrt1p_sq":
        return (x * x + 1).sqrt()
    if name == "square":
        return x * x
    if name == "neg":
        return -x
    if name == "scale":
        return x * 0.7 + 0.1
    if name == "pow3":
        return x**3
    if name == "sum_all":
        return x.sum()
    if name == "sum_last":
        return x.sum(-1)
    if name == "mean_first":
        return x.mean(0, keepdim=True)
    if name == "reshape_flat":
        return x.reshape(-1)
    if name == "transpose":
        return x.transpose(0, 1)
    if name == "unsqueeze":
        return x.unsqueeze(0)
    if name == "index0":
        return x[0]
    if name == "slice":
        return x[..., :2]
    if name == "repeat_rows":
        return x[[0, 0, -1]]
    if name == "relu":
        return x.relu()
    if name == "abs":
        return x.abs()
    if name == "amax_last":
        return x.amax(-1)
    return _unary_surface(name, x)


def _unary_surface(name, x):
    if name == "sin":
        return x.sin()
    if name == "cumsum_last":
        return x.cumsum(-1)
    if name == "prod_last":
        return x.prod(-1)
    if name == "logsumexp_last":
        return x.logsumexp(-1)
    if name == "flip_first":
        return x.flip(0)
    if name == "sort_last":
        return x.sort(-1).values
    y = x * 1
    if name == "inplace_chain":
        y.mul_(0.5)
        y.add_(x)
        y.tanh_()
    elif name == "view_inplace":
        y[..., :1].mul_(2.0)
    elif name == "setitem_first":
        y[0] = x[-1] * 2
    else:
        raise AssertionError(name)
    return y


def _binary(lib, name, a, b, mask):
    if name == "add":
        return a + b
    if name == "sub":
        return a - b
    if name == "mul":
        return a * b
    if name == "div":
        return a / (b * b + 0.5)
    if name == "matmul":
        return a @ b
    if name == "where":
        cond = lib.tensor(mask) if lib is not np else mask
        return lib.where(cond, a, b)
    if name == "maximum":
        return lib.maximum(a, b)
    y = a * 1
    if name == "iadd_inplace":  # b broadcasts to a's shape
        y += b * a
    elif name == "copy_into_view":  # y[0] := b (b broadcasts to a row of a)
        y[0].copy_(b * 3)
    else:
        raise AssertionError(name)
    return y


def _np_shape(name, shapes):
    """Output shape of the op on zero arrays of these shapes, or None if it does not apply."""
    z = [np.zeros(s) for s in shapes]
    try:
        if len(z) == 1:
            x = z[0]
            if name in ("transpose",) and x.ndim != 2:
                return None
            if name in ("sum_last", "amax_last", "slice") and x.ndim == 0:
                return None
            if name in ("cumsum_last", "prod_last", "logsumexp_last", "sort_last") and x.ndim == 0:
                return None
            if name in ("flip_first", "view_inplace", "setitem_first") and x.ndim == 0:
                return None
            if name in ("mean_first", "index0", "repeat_rows") and (x.ndim == 0 or x.shape[0] == 0):
                return None
            if name == "amax_last" and x.shape[-1] == 0:
                return None
            table = {
                "sum_all": (),
                "sum_last": x.shape[:-1],
                "mean_first": (1, *x.shape[1:]) if x.ndim else None,
                "reshape_flat": (x.size,),
                "transpose": x.shape[::-1],
                "unsqueeze": (1, *x.shape),
                "index0": x.shape[1:],
                "slice": (*x.shape[:-1], min(2, x.shape[-1])) if x.ndim else None,
                "repeat_rows": (3, *x.shape[1:]) if x.ndim else None,
                "amax_last": x.shape[:-1],
                "prod_last": x.shape[:-1],
                "logsumexp_last": x.shape[:-1],
            }
            return table.get(name, x.shape)
        a, b = z
        if name == "matmul":
            if a.ndim == 0 or b.ndim == 0:
                return None
            return np.matmul(a, b).shape
        if name == "iadd_inplace":
            return a.shape if np.broadcast_shapes(a.shape, b.shape) == a.shape else None
        if name == "copy_into_view":
            if a.ndim == 0 or np.broadcast_shapes(a.shape[1:], b.shape) != a.shape[1:]:
                return None
            return a.shape
        return np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        return None


@st.composite
def programs(draw, smooth_only):
    n_leaves = draw(st.integers(1, 3))
    shapes = [draw(st.sampled_from(SHAPES)) for _ in range(n_leaves)]
    steps = []
    value_shapes = list(shapes)
    unary = [k for k, smooth in UNARY.items() if smooth or not smooth_only]
    binary = [k for k, smooth in BINARY.items() if smooth or not smooth_only]
    for _ in range(draw(st.integers(1, 10))):
        if draw(st.booleans()):
            name = draw(st.sampled_from(unary))
            i = draw(st.integers(0, len(value_shapes) - 1))
            out = _np_shape(name, [value_shapes[i]])
            if out is None or int(np.prod(out)) == 0:
                continue
            steps.append((name, (i,), None))
        else:
            name = draw(st.sampled_from(binary))
            i = draw(st.integers(0, len(value_shapes) - 1))
            j = draw(st.integers(0, len(value_shapes) - 1))  # may equal i
            out = _np_shape(name, [value_shapes[i], value_shapes[j]])
            if out is None or int(np.prod(out)) == 0:
                continue
            mask = None
            if name == "where":
                bits = draw(
                    st.lists(st.booleans(), min_size=int(np.prod(out)), max_size=int(np.prod(out)))
                )
                mask = np.array(bits, dtype=bool).reshape(out)
            steps.append((name, (i, j), mask))
        value_shapes.append(out)
    picks = draw(st.lists(st.integers(0, len(value_shapes) - 1), min_size=1, max_size=4))
    seed = draw(st.integers(0, 2**31 - 1))
    return shapes, steps, picks, value_shapes, seed


def _run(lib, leaves, steps, picks, value_shapes, weights):
    values = list(leaves)
    for name, idx, mask in steps:
        if len(idx) == 1:
            values.append(_unary(lib, name, values[idx[0]]))
        else:
            values.append(_binary(lib, name, values[idx[0]], values[idx[1]], mask))
    loss = None
    for k, w in zip(picks, weights, strict=True):
        wt = lib.tensor(w) if lib is not np else w
        term = (values[k] * wt).sum()
        loss = term if loss is None else loss + term
    return loss


def _setup(prog):
    shapes, _steps, picks, value_shapes, seed = prog
    rng = np.random.default_rng(seed)
    leaves = [rng.uniform(-1.5, 1.5, s) for s in shapes]
    weights = [rng.standard_normal(value_shapes[k]) for k in picks]
    return leaves, weights


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(smooth_only=True))
def test_random_graphs_match_finite_differences(prog):
    _shapes, steps, picks, value_shapes, _ = prog
    leaves, weights = _setup(prog)
    ts = [dlx.tensor(v, requires_grad=True) for v in leaves]
    loss = _run(dlx, ts, steps, picks, value_shapes, weights)
    if not loss.requires_grad:
        return
    loss.backward()
    eps = 1e-6
    for t, v in zip(ts, leaves, strict=True):
        num = np.zeros(v.shape)
        for flat in range(v.size):
            idx = np.unravel_index(flat, v.shape)
            vals = []
            for d in (eps, -eps):
                pert = [a.copy() for a in leaves]
                pert[next(i for i, x in enumerate(leaves) if x is v)][idx] += d
                with dlx.no_grad():
                    out = _run(
                        dlx, [dlx.tensor(a) for a in pert], steps, picks, value_shapes, weights
                    )
                vals.append(float(out.item()))
            num[idx] = (vals[0] - vals[1]) / (2 * eps)
        got = np.zeros(v.shape) if t.grad is None else t.grad.numpy()
        np.testing.assert_allclose(got, num, rtol=1e-4, atol=1e-6)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(smooth_only=False))
def test_random_graphs_match_torch(prog):
    torch = pytest.importorskip("torch")
    _shapes, steps, picks, value_shapes, _ = prog
    leaves, weights = _setup(prog)
    ts = [dlx.tensor(v, requires_grad=True) for v in leaves]
    loss = _run(dlx, ts, steps, picks, value_shapes, weights)
    tt = [torch.tensor(v, requires_grad=True) for v in leaves]
    tloss = _run(torch, tt, steps, picks, value_shapes, weights)
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-10, atol=1e-12)
    if not loss.requires_grad:
        return
    loss.backward()
    tloss.backward()
    for t, u in zip(ts, tt, strict=True):
        expected = np.zeros(u.shape) if u.grad is None else u.grad.numpy()
        got = np.zeros(t.shape) if t.grad is None else t.grad.numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(smooth_only=True))
def test_random_graphs_second_order_match_torch(prog):
    torch = pytest.importorskip("torch")
    _shapes, steps, picks, value_shapes, _ = prog
    leaves, weights = _setup(prog)
    ts = [dlx.tensor(v, requires_grad=True) for v in leaves]
    loss = _run(dlx, ts, steps, picks, value_shapes, weights)
    tt = [torch.tensor(v, requires_grad=True) for v in leaves]
    tloss = _run(torch, tt, steps, picks, value_shapes, weights)
    if not loss.requires_grad:
        return
    g = dlx.autograd.grad(loss, ts, create_graph=True, allow_unused=True)
    tg = torch.autograd.grad(tloss, tt, create_graph=True, allow_unused=True)
    gsum = sum(((x * x).sum() for x in g if x is not None and x.requires_grad), dlx.tensor(0.0))
    tsum = sum(((x * x).sum() for x in tg if x is not None and x.requires_grad), torch.tensor(0.0))
    if not gsum.requires_grad:
        return
    h = dlx.autograd.grad(gsum, ts, allow_unused=True)
    th = torch.autograd.grad(tsum, tt, allow_unused=True)
    for a, b, t in zip(h, th, ts, strict=True):
        got = np.zeros(t.shape) if a is None else a.numpy()
        expected = np.zeros(t.shape) if b is None else b.numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-10)
