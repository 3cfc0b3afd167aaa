"""User-defined ops through ``dlx.autograd.Function`` with PyTorch's interface: forward and
backward receive and return Tensors, ``ctx`` keeps Tensors and attributes; checked against
finite differences and, where installed, the same class body run on torch."""

from __future__ import annotations

import numpy as np
import pytest

import dlx
from dlx.autograd import Function, gradcheck

SOURCE = """
class MyReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return input.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input < 0] = 0
        return grad_input


class ScaledMul(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, scale):
        ctx.scale = scale
        ctx.save_for_backward(a, b)
        return a * b * scale, (a - b).abs()

    @staticmethod
    def backward(ctx, g_prod, g_abs):
        a, b = ctx.saved_tensors
        sign = (a - b).sign()
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = g_prod * b * ctx.scale + g_abs * sign
        if ctx.needs_input_grad[1]:
            gb = g_prod * a * ctx.scale - g_abs * sign
        return ga, gb, None


def run(torch, x_np, y_np):
    x = torch.tensor(x_np, requires_grad=True)
    y = torch.tensor(y_np, requires_grad=True)
    h = MyReLU.apply(x * 2 - 0.5)
    p, d = ScaledMul.apply(h, y, 1.5)
    loss = (p.sum() + (d * d).sum()).exp() / 100 + p.mean()
    loss.backward()
    return loss.item(), x.grad.numpy().copy(), y.grad.numpy().copy(), h.detach().numpy().copy()
"""


def _build(torch_module):
    ns = {"torch": torch_module}
    exec(SOURCE, ns)  # noqa: S102 - the same class source on torch and on dlx
    return ns


def _data():
    rng = np.random.default_rng(3)
    return rng.standard_normal((4, 5)), rng.standard_normal((4, 5)) * 0.1


def test_tutorial_relu_and_multi_output_match_torch():
    torch = pytest.importorskip("torch")
    x, y = _data()
    want = _build(torch)["run"](torch, x, y)
    got = _build(dlx)["run"](dlx, x, y)
    assert got[0] == pytest.approx(want[0], rel=1e-12)
    for g, w in zip(got[1:], want[1:], strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


def test_forward_and_backward_see_tensors():
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, x, k):
            seen["forward"] = (type(x), x.requires_grad, dlx.is_grad_enabled(), k)
            ctx.save_for_backward(x)
            return x * k

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            seen["backward"] = (type(g), type(x))
            return g * ctx.needs_input_grad[0] * 3, None

    x = dlx.tensor([1.0, 2.0], requires_grad=True)
    y = Probe.apply(x, 3)
    y.sum().backward()
    assert seen["forward"] == (dlx.Tensor, False, False, 3)
    assert seen["backward"] == (dlx.Tensor, dlx.Tensor)
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    assert type(y.grad_fn) is Probe


def test_gradcheck_of_a_user_function():
    x = dlx.tensor(_data()[0], requires_grad=True)
    y = dlx.tensor(_data()[1], requires_grad=True)
    ns = _build(dlx)
    assert gradcheck(lambda a, b: ns["ScaledMul"].apply(a, b, 0.7)[0].sum(), [x, y])
    assert gradcheck(lambda a: ns["MyReLU"].apply(a * 1.0 + 0.25), [x])


def test_non_differentiable_output_and_dirty_input():
    class ArgmaxAndDouble(Function):
        @staticmethod
        def forward(ctx, x):
            idx = x.argmax(dim=1)
            ctx.mark_non_differentiable(idx)
            return x * 2, idx

        @staticmethod
        def backward(ctx, g, g_idx):
            return g * 2

    class AddOneInPlace(Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1.0)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    x = dlx.tensor(_data()[0], requires_grad=True)
    y, idx = ArgmaxAndDouble.apply(x)
    assert not idx.requires_grad
    assert idx.dtype == np.int64
    z = AddOneInPlace.apply(y)
    assert z is y
    assert z.grad_fn is not None
    (z * z).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (2 * x.numpy() + 1) * 2)


def _cube(name, double_backward):
    """x**3 as a user Function, built with type() (class creation wraps it all the same)."""

    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * g * x * x

    body = {"forward": staticmethod(forward), "backward": staticmethod(backward)}
    return type(name, (Function,), {"double_backward": double_backward, **body})


def test_double_backward_of_a_user_function():
    x = dlx.tensor([0.5, -1.0, 2.0], requires_grad=True)
    (g,) = dlx.autograd.grad(_cube("Cube", True).apply(x).sum(), x, create_graph=True)
    (h,) = dlx.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), 6 * x.numpy())

    (g,) = dlx.autograd.grad(_cube("NotTwice", False).apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), 3 * x.numpy() ** 2)
    with pytest.raises(NotImplementedError, match="NotTwice"):
        dlx.autograd.grad(g.sum(), x)


def test_apply_on_arrays_returns_arrays():
    class Twice(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    out = Twice.apply(np.arange(3.0))
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, [0.0, 2.0, 4.0])
