from __future__ import annotations

import threading

import numpy as np
import pytest

import dlx
from dlx.autograd import Function


def leaf(values, dtype=np.float64):
    return dlx.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# -- backward basics -------------------------------------------------------------------------
def test_backward_simple_polynomial():
    x = leaf([1.0, 2.0, 3.0])
    y = (x * x * x - 2 * x).sum()
    y.backward()
    np.testing.assert_allclose(x.grad, 3 * x.data**2 - 2)


def test_backward_diamond_accumulates_every_path():
    x = leaf([2.0])
    a = x * 3
    b = x.exp()
    (a * b + a + b).sum().backward()
    e = np.exp(2.0)
    np.testing.assert_allclose(x.grad, [3 * e + 3 * 2 * e + 3 + e])


def test_backward_same_tensor_used_twice_in_one_op():
    x = leaf([3.0])
    (x * x).backward()
    np.testing.assert_allclose(x.grad, [6.0])
    y = leaf([1.0, 2.0])
    (y + y).sum().backward()
    np.testing.assert_allclose(y.grad, [2.0, 2.0])


def test_leaf_grad_accumulates_in_place():
    x = leaf([1.0, 2.0])
    (x * 2).sum().backward()
    g = x.grad
    (x * 3).sum().backward()
    assert x.grad is g  # same array: optimisers may hold views of it
    np.testing.assert_allclose(g, [5.0, 5.0])


def test_leaf_grad_accumulates_into_a_view_of_a_flat_buffer():
    flat = np.zeros(5)
    w = leaf([1.0, 2.0])
    w.grad = flat[1:3]
    (w * w).sum().backward()
    np.testing.assert_allclose(flat, [0, 2, 4, 0, 0])


def test_grad_of_separate_leaves_never_aliases():
    a, b = leaf([1.0]), leaf([1.0])
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad, b.grad)
    a.grad += 1
    assert b.grad[0] == 1.0


def test_ops_read_data_at_call_time():
    w = leaf([1.0, 2.0])
    buffer = np.array([10.0, 20.0, 30.0])
    w.data = buffer[:2]  # an optimiser may rebind .data to a view into its flat buffer
    (w * 2).sum().backward()
    np.testing.assert_allclose((w * 1).data, [10.0, 20.0])
    np.testing.assert_allclose(w.grad, [2.0, 2.0])


def test_backward_on_leaf_scalar():
    x = leaf(2.0)
    x.backward()
    assert x.grad == 1.0


def test_backward_with_explicit_gradient():
    x = leaf([1.0, 2.0])
    y = x * 3
    y.backward(np.array([1.0, 10.0]))
    np.testing.assert_allclose(x.grad, [3.0, 30.0])
    z = leaf([1.0]) * 2
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        z.backward(np.ones(3))


def test_backward_non_scalar_without_gradient_raises():
    y = leaf([1.0, 2.0]) * 2
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        y.backward()


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        dlx.tensor([1.0]).sum().backward()


def test_backward_twice_raises_clear_error():
    x = leaf([1.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad, 2 * first)


def test_shared_trunk_second_loss_after_free_raises():
    x = leaf([1.0])
    h = x.exp()
    (h * 2).sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        (h * 3).sum().backward()


def test_graph_is_freed_after_backward():
    x = leaf([1.0])
    y = (x.exp() * 2).sum()
    node = y.grad_fn
    y.backward()
    assert node.parents == ()
    with pytest.raises(RuntimeError, match="second time"):
        _ = node.saved_arrays


# -- deep graphs -----------------------------------------------------------------------------
def test_chain_of_10000_ops_backward_is_iterative():
    x = leaf(1.0)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    np.testing.assert_allclose(x.grad, 1.0001**10_000, rtol=1e-9)


def test_chain_of_10000_ops_with_retained_graph_and_teardown():
    x = leaf([0.5, 0.25])
    y = x
    for _ in range(5_000):
        y = (y + 1.0) - 1.0
    s = y.sum()
    s.backward(retain_graph=True)
    s.backward()
    np.testing.assert_allclose(x.grad, [2.0, 2.0])
    del s, y  # tearing down a retained deep graph must not overflow the C stack


def test_deep_autograd_grad():
    x = leaf(2.0)
    y = x
    for _ in range(10_000):
        y = y + x
    (g,) = dlx.autograd.grad(y, x)
    assert g == 10_001.0
    assert x.grad is None


# -- version counters ------------------------------------------------------------------------
def test_inplace_change_of_saved_input_raises_at_backward():
    w = leaf([1.0, 2.0])
    a = dlx.tensor([3.0, 4.0])
    z = (w * a).sum()
    a.add_(1)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.backward()


def test_optimiser_step_before_backward_raises():
    w = leaf([1.0, 2.0])
    loss = (w * w).sum()
    with dlx.no_grad():
        w.sub_(0.1)
    with pytest.raises(RuntimeError, match="in-place"):
        loss.backward()


def test_inplace_change_of_saved_output_raises():
    x = leaf([1.0])
    y = x.exp()  # saves its output
    z = (y * 2).sum()
    with dlx.no_grad():
        y.mul_(3)
    with pytest.raises(RuntimeError, match="its output"):
        z.backward()


def test_inplace_change_through_a_view_raises():
    w = leaf([[1.0, 2.0]])
    a = dlx.tensor([[3.0, 4.0]])
    z = (w * a).sum()
    a[0].add_(1)  # a view of a shares its version counter
    with pytest.raises(RuntimeError, match="in-place"):
        z.backward()


def test_unsaved_tensor_may_change_in_place():
    w = leaf([1.0, 2.0])
    a = dlx.tensor([3.0, 4.0])
    z = (w + a).sum()  # add saves nothing
    a.add_(1)
    z.backward()
    np.testing.assert_allclose(w.grad, [1.0, 1.0])


def test_inplace_on_graph_tensor_is_recorded():
    x = leaf([1.0])
    y = x * 2
    y.add_(1)
    y.backward()
    np.testing.assert_allclose(x.grad, [2.0])
    w = leaf([3.0])
    a = dlx.tensor([1.0])
    a.add_(w)  # a plain tensor takes the history of its operand
    assert a.requires_grad
    (a * a).sum().backward()
    np.testing.assert_allclose(w.grad, [8.0])


# -- grad mode -------------------------------------------------------------------------------
def test_no_grad_context_and_decorator():
    x = leaf([1.0])
    with dlx.no_grad():
        assert not dlx.is_grad_enabled()
        y = x * 2
        with dlx.enable_grad():
            z = x * 2
    assert dlx.is_grad_enabled()
    assert not y.requires_grad
    assert y.grad_fn is None
    assert z.requires_grad

    @dlx.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert dlx.is_grad_enabled()


def test_set_grad_enabled():
    with dlx.set_grad_enabled(False):
        assert not dlx.is_grad_enabled()
    assert dlx.is_grad_enabled()
    dlx.set_grad_enabled(False)
    assert not dlx.is_grad_enabled()
    dlx.set_grad_enabled(True)
    assert dlx.is_grad_enabled()


def test_grad_mode_is_thread_local():
    seen = []
    with dlx.no_grad():
        t = threading.Thread(target=lambda: seen.append(dlx.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]


def test_no_grad_restores_on_exception():
    with pytest.raises(KeyError), dlx.no_grad():
        raise KeyError
    assert dlx.is_grad_enabled()


# -- autograd.grad -----------------------------------------------------------------------------
def test_autograd_grad_leaves_dot_grad_alone():
    x, y = leaf([1.0, 2.0]), leaf([3.0])
    out = (x * y).sum()
    gx, gy = dlx.autograd.grad(out, [x, y])
    np.testing.assert_allclose(gx, [3.0, 3.0])
    np.testing.assert_allclose(gy, [3.0])
    assert x.grad is None
    assert y.grad is None


def test_autograd_grad_intermediate_input_and_grad_outputs():
    x = leaf([1.0, 2.0])
    h = x * 2
    out = h * h
    (gh,) = dlx.autograd.grad(out, h, grad_outputs=np.array([1.0, 0.5]), retain_graph=True)
    np.testing.assert_allclose(gh, 2 * h.data * [1.0, 0.5])
    gh, gx = dlx.autograd.grad(out.sum(), [h, x], retain_graph=True)
    np.testing.assert_allclose(gh, 2 * h.data)
    np.testing.assert_allclose(gx, 8 * x.data)
    (gx,) = dlx.autograd.grad(out.sum(), x)
    np.testing.assert_allclose(gx, 8 * x.data)


def test_autograd_grad_unused_inputs():
    x, z = leaf([1.0]), leaf([2.0])
    out = (x * 2).sum()
    with pytest.raises(RuntimeError, match="allow_unused"):
        dlx.autograd.grad(out, [x, z], retain_graph=True)
    gx, gz = dlx.autograd.grad(out, [x, z], allow_unused=True)
    assert gz is None
    np.testing.assert_allclose(gx, [2.0])


def test_autograd_grad_errors():
    x = leaf([1.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        dlx.autograd.grad((x * 2).sum(), dlx.tensor([1.0]))
    with pytest.raises(TypeError, match="inputs"):
        dlx.autograd.grad((x * 2).sum(), [np.ones(1)])


def test_autograd_backward_multiple_roots():
    x = leaf([1.0, 2.0])
    dlx.autograd.backward([(x * 2).sum(), x * 3], [None, np.ones(2)])
    np.testing.assert_allclose(x.grad, [5.0, 5.0])


def test_retain_grad_on_intermediate():
    x = leaf([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * h.data)


def test_mixed_dtype_gradients_match_each_input():
    a = dlx.tensor([1.0, 2.0], requires_grad=True)  # float32
    b = leaf([3.0, 4.0])  # float64
    y = a * b
    assert y.dtype == np.float64
    y.sum().backward()
    assert a.grad.dtype == np.float32
    assert b.grad.dtype == np.float64


# -- custom functions ---------------------------------------------------------------------------
class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_arrays
        return 3 * x**2 * g


class BadShape(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g[:1]


def test_custom_function_passes_gradcheck():
    x = leaf([0.5, -1.0, 2.0])
    assert dlx.gradcheck(Cube.apply, (x,))
    y = Cube.apply(x)
    assert y.grad_fn.name() == "CubeBackward"


def test_custom_function_with_wrong_gradient_shape_is_caught():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"BadShapeBackward returned a gradient of shape \(1,\)"):
        BadShape.apply(x).sum().backward()


def test_function_without_grad_inputs_records_nothing():
    y = Cube.apply(dlx.tensor([1.0]))
    assert y.grad_fn is None
    assert not y.requires_grad


# -- gradcheck itself -------------------------------------------------------------------------
class WrongGrad(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_arrays
        return g * np.cos(x) * np.where(np.arange(x.size).reshape(x.shape) == 4, 1.5, 1.0)


def test_gradcheck_reports_worst_element():
    x = leaf(np.linspace(0.1, 1.2, 6).reshape(2, 3))
    with pytest.raises(dlx.GradcheckError, match=r"input 0 at element \(1, 1\).*analytic.*numeric"):
        dlx.gradcheck(WrongGrad.apply, (x,))
    assert dlx.gradcheck(WrongGrad.apply, (x,), raise_exception=False) is False
    assert isinstance(dlx.GradcheckError("x"), AssertionError)


def test_gradcheck_refuses_float32_and_no_grad_inputs():
    with pytest.raises(ValueError, match=r"input 0 has dtype float32.*float64"):
        dlx.gradcheck(lambda t: t * 2, (dlx.tensor([1.0], requires_grad=True),))
    with pytest.raises(ValueError, match="no input requires grad"):
        dlx.gradcheck(lambda t: t * 2, (dlx.tensor(np.ones(2)),))
    with pytest.raises(ValueError, match="`eps`"):
        dlx.gradcheck(lambda t: t * 2, (leaf([1.0]),), eps=0)


def test_gradcheck_multiple_outputs_and_passthrough_args():
    x, y = leaf([1.0, 2.0]), leaf([[0.5], [1.5]])

    def fn(a, b, scale):
        return a * b * scale, (a - b).exp()

    assert dlx.gradcheck(fn, (x, y, 3.0))


def test_gradcheck_catches_unrecorded_output():
    def fn(a):
        return dlx.tensor(a.data * 2)  # detached: analytic grad is 0, numeric is not

    with pytest.raises(dlx.GradcheckError):
        dlx.gradcheck(fn, (leaf([1.0]),))
