"""The compiled engine: regressions from random-graph probes, higher-order gradients,
hooks, multi-output nodes, thread safety and the Tensor/array boundary."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import dlx
from dlx.autograd import Function


def leaf(values, dtype=np.float64):
    return dlx.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# -- regressions: shared gradient buffers ---------------------------------------------------
def test_add_shared_gradient_is_never_written_in_place():
    # Add hands the same array to both parents; the engine used to add into it in place.
    x = dlx.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a, b = x * 2, x * 3
    z = a + b
    (z.sum() + (z * 1).sum() + (a * 5).sum() + (b * 7).sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), [41.0, 41.0, 41.0])


def test_gradients_of_parents_never_alias():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    s = a + b
    (s * 1 + s * 1).sum().backward()
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    a.grad.add_(1)
    np.testing.assert_allclose(b.grad.numpy(), [2.0, 2.0])


def test_captured_gradients_do_not_alias():
    a, b = leaf([1.0]), leaf([2.0])
    ga, gb = dlx.autograd.grad((a + b).sum(), [a, b])
    assert not np.shares_memory(ga.numpy(), gb.numpy())


# -- regressions: 0-d tensors used several times ---------------------------------------------
def test_zero_d_mean_used_three_times():
    x = leaf([1.0, 2.0, 3.0])
    m = x.mean()
    (m * m + m).backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, (2 * 2.0 + 1) / 3))


def test_zero_d_index_used_in_several_terms():
    x = leaf([1.0, 5.0])
    a = x[0]
    ((1 - a) ** 2 + a * a + a).backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 0.0])


@pytest.mark.parametrize("op", ["relu", "sigmoid", "tanh"])
def test_zero_d_activation_output_used_twice(op):
    x = leaf([0.3, 0.4])
    y = getattr(x.sum(), op)()
    (y * y + y).backward()
    s = 0.7
    f = {"relu": s, "sigmoid": 1 / (1 + np.exp(-s)), "tanh": np.tanh(s)}[op]
    df = {"relu": 1.0, "sigmoid": f * (1 - f), "tanh": 1 - f * f}[op]
    np.testing.assert_allclose(x.grad.numpy(), np.full(2, (2 * f + 1) * df))


def test_scalar_loss_reused():
    x = leaf([1.0, 2.0])
    loss = (x * x).sum()
    total = loss + loss * loss + loss
    total.backward()
    np.testing.assert_allclose(x.grad.numpy(), (2 + 2 * 5.0) * 2 * x.numpy())


def test_lbfgs_on_scalar_objective_built_from_elements():
    w = dlx.nn.Parameter(np.array([-1.2, 1.0]))
    opt = dlx.optim.LBFGS([w], lr=1, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        a, b = w[0], w[1]
        loss = (1 - a) ** 2 + 100 * (b - a * a) ** 2  # Rosenbrock
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    np.testing.assert_allclose(w.numpy(), [1.0, 1.0], atol=1e-4)


# -- regressions: in-place changes by optimisers are tracked ---------------------------------
@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_optimizer_step_bumps_versions(name):
    w = dlx.nn.Parameter(np.ones(3, np.float32))
    opt = getattr(dlx.optim, name)([w], lr=0.1)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    v = w._version
    opt.step()
    assert w._version > v
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_lbfgs_steps_bump_versions():
    w = dlx.nn.Parameter(np.ones(2))
    opt = dlx.optim.LBFGS([w], max_iter=2)
    saved = (w * w).sum()

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        saved.backward()


def test_failed_version_check_changes_no_grad():
    w = leaf([1.0, 2.0])
    u = leaf([3.0])
    y = (w * w).sum() + (u * 2).sum()
    with dlx.no_grad():
        w.add_(1)
    with pytest.raises(RuntimeError, match="in-place"):
        y.backward()
    assert u.grad is None
    assert w.grad is None


# -- regressions: concurrent backward into one leaf --------------------------------------------
def test_concurrent_backward_into_shared_leaf_gives_exact_sum():
    shared = dlx.tensor(np.zeros(2000), requires_grad=True)
    errors = []

    def work():
        try:
            for _ in range(100):
                (shared * 2 + shared).sum().backward()
        except Exception as exc:  # noqa: BLE001 - any failure is reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    np.testing.assert_array_equal(shared.grad.numpy(), np.full(2000, 4 * 100 * 3.0))


def test_threads_with_separate_graphs_and_grad_modes():
    x = leaf(np.ones(50))
    results = [None] * 4

    def work(i):
        with dlx.no_grad() if i % 2 else dlx.enable_grad():
            y = (x * (i + 1)).sum()
        results[i] = y.requires_grad

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True, False, True, False]  # grad mode is per thread


# -- higher-order gradients ---------------------------------------------------------------------
def test_second_and_third_derivatives():
    x = leaf([0.5, 1.5])
    y = (x**4).sum()
    (g,) = dlx.autograd.grad(y, x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), 4 * x.numpy() ** 3)
    (h,) = dlx.autograd.grad(g.sum(), x, create_graph=True)
    np.testing.assert_allclose(h.numpy(), 12 * x.numpy() ** 2)
    (t,) = dlx.autograd.grad(h.sum(), x)
    np.testing.assert_allclose(t.numpy(), 24 * x.numpy())


def test_backward_create_graph_makes_grad_differentiable():
    x = leaf([2.0])
    (x.exp() * x).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    g = x.grad
    x.grad = None
    g.sum().backward()
    e = np.exp(2.0)
    np.testing.assert_allclose(x.grad.numpy(), [e * 2 + e + e])  # d/dx (e^x x + e^x)


def test_gradient_penalty_through_a_layer():
    dlx.manual_seed(0)
    lin = dlx.nn.Linear(3, 1).double()
    x = dlx.tensor(np.random.default_rng(0).standard_normal((5, 3)), requires_grad=True)
    out = lin(x).tanh().sum()
    (gx,) = dlx.autograd.grad(out, x, create_graph=True)
    penalty = (gx * gx).sum()
    penalty.backward()
    assert lin.weight.grad is not None

    def penalty_of(w):
        with dlx.enable_grad():  # gradcheck evaluates its numeric side under no_grad
            out = dlx.nn.functional.linear(x, w, lin.bias).tanh().sum()
            (g,) = dlx.autograd.grad(out, x, create_graph=True)
        return (g * g).sum()

    dlx.gradcheck(penalty_of, [lin.weight.detach().requires_grad_()])


def test_fused_op_without_double_backward_raises_naming_it():
    rnn = dlx.nn.LSTM(2, 3).double()
    x = dlx.tensor(np.random.default_rng(1).standard_normal((4, 1, 2)), requires_grad=True)
    out, _ = rnn(x)
    (gx,) = dlx.autograd.grad(out.sum(), x, create_graph=True)
    assert gx.requires_grad
    with pytest.raises(NotImplementedError, match="double backward through RNN"):
        gx.sum().backward()


def test_custom_function_without_double_backward_raises():
    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = leaf([3.0])
    y = Square.apply(x).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0])
    (g,) = dlx.autograd.grad(Square.apply(x).sum(), x, create_graph=True)
    with pytest.raises(NotImplementedError, match="Square"):
        g.sum().backward()


# -- hooks and retain_grad -----------------------------------------------------------------------
def test_register_hook_on_leaf_sees_total_and_can_replace():
    x = leaf([1.0, 2.0])
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.numpy().copy()) or g * 10)
    (x * 2 + x * 3).sum().backward()
    np.testing.assert_allclose(seen[0], [5.0, 5.0])  # once, with the summed gradient
    np.testing.assert_allclose(x.grad.numpy(), [50.0, 50.0])
    handle.remove()
    x.grad = None
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])
    assert len(seen) == 1


def test_register_hook_on_intermediate_changes_upstream_gradient():
    x = leaf([1.0, 2.0])
    h = x * 3
    h.register_hook(lambda g: g * 0.5)
    (h * h).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 0.5 * 2 * 3 * 3 * x.numpy())


def test_retain_grad_on_intermediate():
    x = leaf([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    assert h.retains_grad
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.numpy())
    assert x.grad is not None


def test_hook_requires_grad():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        dlx.tensor([1.0]).register_hook(lambda g: g)


# -- multi-output nodes ---------------------------------------------------------------------------
class SplitPair(Function):
    """Three outputs: 2x, x^2 and the (integer, non-differentiable) sort order."""

    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        idx = np.argsort(x)
        ctx.mark_non_differentiable(idx)
        return x * 2, x * x, idx

    @staticmethod
    def backward(ctx, g_double, g_square, g_idx):
        assert g_idx is None
        return g_double * 2 + g_square * 2 * ctx.x


def _split(x):
    return SplitPair.apply(x)


def test_multi_output_function_gets_one_grad_per_output_and_zeros_for_unused():
    x = leaf([3.0, 1.0, 2.0])
    d, s, idx = _split(x)
    assert idx.dtype == np.int64
    assert not idx.requires_grad
    assert d.grad_fn is s.grad_fn
    assert d.output_nr == 0
    assert s.output_nr == 1
    s.sum().backward()  # nothing flows into d: it gets zeros
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy())
    x.grad = None
    d2, s2, _ = _split(x)
    (d2.sum() + s2.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 + 2 * x.numpy())


def test_max_pool_indices_are_an_output():
    x = dlx.tensor(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
    y, idx = dlx.nn.functional.max_pool2d(x, 2, return_indices=True)
    assert y.grad_fn is not None
    assert idx.grad_fn is None
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx.numpy().ravel(), [5, 7, 13, 15])
    y.sum().backward()
    assert x.grad.numpy().sum() == 4


# -- the Tensor / array boundary --------------------------------------------------------------------
def test_grad_and_data_are_tensors_sharing_memory():
    w = leaf([1.0, 2.0])
    (w * w).sum().backward()
    assert isinstance(w.grad, dlx.Tensor)
    assert isinstance(w.data, dlx.Tensor)
    assert np.shares_memory(w.data.numpy(), w.numpy())
    w.grad.zero_()
    assert w.grad.norm() == 0 if hasattr(w.grad, "norm") else not w.grad.numpy().any()
    with dlx.no_grad():
        w -= 0.5 * w.grad
    w.data.mul_(2)  # .data is outside the graph: no version bump on w
    np.testing.assert_allclose(w.numpy(), [2.0, 4.0])


def test_numpy_ufuncs_on_tensors():
    x = leaf([1.0, 2.0])
    y = np.exp(x)  # dlx's op: differentiable
    assert isinstance(y, dlx.Tensor)
    assert y.requires_grad
    z = np.ones(2) + x  # ndarray + Tensor
    assert isinstance(z, dlx.Tensor)
    assert z.requires_grad
    with pytest.raises(TypeError, match="requires grad"):
        np.cos(x)
    np.testing.assert_allclose(np.cos(x.detach()), np.cos([1.0, 2.0]))


def test_function_apply_on_arrays_returns_arrays():
    from dlx._ops.elementwise import Mul

    a = np.arange(3.0)
    out = Mul.apply(a, a, dtype=a.dtype)
    assert type(out) is np.ndarray
    np.testing.assert_allclose(out, a * a)


# -- module backward hooks ---------------------------------------------------------------------
def test_module_full_backward_hook_sees_input_and_output_gradients():
    lin = dlx.nn.Linear(3, 2).double()
    seen = []
    handle = lin.register_full_backward_hook(
        lambda m, gi, go: seen.append((m, gi[0].numpy().copy(), go[0].numpy().copy()))
    )
    x = leaf(np.arange(12.0).reshape(4, 3))
    (lin(x) * 3).sum().backward()
    ((m, gi, go),) = seen
    assert m is lin
    np.testing.assert_allclose(go, np.full((4, 2), 3.0))
    np.testing.assert_allclose(gi, x.grad.numpy())
    handle.remove()
    lin(x).sum().backward()
    assert len(seen) == 1


def test_module_backward_hooks_can_replace_gradients():
    lin = dlx.nn.Linear(3, 2).double()
    lin.register_full_backward_pre_hook(lambda m, go: (go[0] * 2,))
    lin.register_full_backward_hook(lambda m, gi, go: (gi[0] + 1,))
    x = leaf(np.ones((2, 3)))
    lin(x).sum().backward()
    expected = 2 * np.ones((2, 2)) @ lin.weight.numpy() + 1
    np.testing.assert_allclose(x.grad.numpy(), expected)
    np.testing.assert_allclose(lin.bias.grad.numpy(), [4.0, 4.0])  # pre-hook doubled go


@pytest.mark.torch
def test_module_full_backward_hook_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w, b, xv = rng.standard_normal((2, 3)), rng.standard_normal(2), rng.standard_normal((4, 3))
    lin = dlx.nn.Linear(3, 2).double()
    lin.load_state_dict({"weight": w, "bias": b})
    tl = torch.nn.Linear(3, 2).double()
    tl.load_state_dict({"weight": torch.from_numpy(w), "bias": torch.from_numpy(b)})
    got, want = [], []
    lin.register_full_backward_hook(lambda m, gi, go: got.append((gi[0].numpy(), go[0].numpy())))
    tl.register_full_backward_hook(lambda m, gi, go: want.append((gi[0].numpy(), go[0].numpy())))
    x, tx = leaf(xv), torch.tensor(xv, requires_grad=True)
    (lin(x).tanh() ** 2).sum().backward()
    (tl(tx).tanh() ** 2).sum().backward()
    for a, c in zip(got[0], want[0], strict=True):
        np.testing.assert_allclose(a, c, rtol=1e-12)


# -- views: base tracking and history rebuilt after an in-place change of the base ----------
def test_views_record_their_root_and_ops():
    x = dlx.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = x * 1
    v = y[1]
    w = v.reshape(3, 1)
    assert v._base is y
    assert w._base is y  # views of views point at the root
    assert [cls.__name__ for cls, _ in w._view_chain] == ["Index", "Reshape"]
    assert w._is_view()
    assert not y._is_view()
    assert y[[0, 1]]._base is None  # advanced indexing copies
    assert (y + 0)._base is None
    assert y.detach()._base is None
    with pytest.raises(RuntimeError, match="can't detach views in-place"):
        v.detach_()


def test_view_history_is_rebuilt_after_the_base_changes_in_place():
    x = dlx.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 1
    col = y[:, 0]
    old = col.grad_fn
    y.mul_(3)  # col now sees 3 * x[:, 0]
    assert col.grad_fn is not old
    assert col.grad_fn.name() == "IndexBackward"
    col.sum().backward()  # a stale root of backward is rebuilt too
    np.testing.assert_allclose(x.grad, [[3.0, 0.0], [3.0, 0.0]])
    x.grad = None
    y2 = x * 1
    row = y2[0]
    y2[0] = y2[1] * 2  # rebases y2 through a second view
    (g,) = dlx.autograd.grad(row.sum(), [x])
    np.testing.assert_allclose(g, [[0.0, 0.0], [2.0, 2.0]])


def test_view_rebuilt_under_no_grad_keeps_its_history():
    x = dlx.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    v = y[1:]
    y.add_(1)
    with dlx.no_grad():
        assert v.requires_grad  # the rebuild records, whatever the grad mode
    (v * v).sum().backward()
    np.testing.assert_allclose(x.grad, [0.0, 6.0, 8.0])


def test_plain_base_gains_history_through_a_view():
    w = dlx.tensor([1.0, 2.0], requires_grad=True)
    buf = dlx.zeros(2, 2, dtype=dlx.float64)
    row = buf[1]
    row.copy_(w * 3)
    assert buf.requires_grad
    assert buf.grad_fn.name() == "CopySlicesBackward"
    assert row.requires_grad  # rebuilt from the rebased base
    (buf.sum() + row.sum()).backward()
    np.testing.assert_allclose(w.grad, [6.0, 6.0])
