"""In-place ops recorded in the graph (PyTorch semantics): ops on non-leaf tensors, plain
tensors taking an operand's history, indexed assignment, in-place ops on views (the base
sees the change and its history is rebased), ``+=``; the refusals (leaves, views of
leaves, views made under no_grad, expanded tensors) and version checks; no_grad updates."""

from __future__ import annotations

import numpy as np
import pytest
from tensor_oracle import compare_with_torch

import dlx

R = np.random.default_rng(21)


def _w(L, shape):
    return L.tensor(R.standard_normal(shape))


CASES = {
    "add_alpha": lambda L, x, y: (x * 1).add_(y, alpha=0.5) * x,
    "sub_": lambda L, x, y: (x * 2).sub_(y) * y,
    "mul_operand": lambda L, x, y: (x + 1).mul_(y) * x,
    "div_": lambda L, x, y: (x * 1).div_(y * y + 1),
    "pow_": lambda L, x, y: (x * x + 1).pow_(1.5),
    "clamp_": lambda L, x, y: (x * 1).clamp_(-0.5, 0.5) * x,
    "zero_then_add": lambda L, x, y: (x * 1).zero_().add_(y),
    "fill_tensor": lambda L, x, y: (x * 1).fill_(y.sum()) * x,
    "copy_broadcast": lambda L, x, y: (x * 1).copy_(y[0]) * x,
    "masked_fill_": lambda L, x, y: (x * 1).masked_fill_(x > 0, 0.25) * y,
    "neg_exp_": lambda L, x, y: (x * 1).neg_().exp_() * x,
    "iadd_imul": lambda L, x, y: _iops(x * 1, y),
    "plain_takes_history": lambda L, x, y: L.zeros(2, 3, dtype=L.float64).add_(x).mul_(y),
    "plain_copy_": lambda L, x, y: L.ones(2, 3, dtype=L.float64).copy_(x * y),
    "setitem_int": lambda L, x, y: _set(x * 1, 0, y[1] * 3),
    "setitem_slice_scalar": lambda L, x, y: _set(x * 1, (slice(None), slice(1, None)), 0.0),
    "setitem_ellipsis_none": lambda L, x, y: _set(x * 1, (Ellipsis, 1), y[0, :2]),
    "setitem_step": lambda L, x, y: _set(x * 1, (1, slice(None, None, 2)), y[0, :2]),
    "setitem_scalar_element": lambda L, x, y: _set(x * 1, (1, 2), y[0, 0] * 2),
    "setitem_int_array": lambda L, x, y: _set(x * 1, [1, 0], y * 2),
    "setitem_mask": lambda L, x, y: _set(x * 1, x > 0, 1.0) * y,
    "setitem_mask_tensor": lambda L, x, y: _set(x * 1, x < 0, y[x < 0]),
    "setitem_on_plain": lambda L, x, y: _set(L.zeros(3, 3, dtype=L.float64), (slice(1), slice(3)), x[0]),
    "view_mul_": lambda L, x, y: _view_op(x * 1, lambda v: v[0].mul_(y[0])),
    "view_of_view": lambda L, x, y: _view_op(x * 1, lambda v: v[:, 1:][1].add_(y[0, :2])),
    "reshape_view": lambda L, x, y: _view_op(x * 1, lambda v: v.reshape(6)[2:4].mul_(3.0)),
    "transpose_view": lambda L, x, y: _view_op(x * 1, lambda v: v.t()[1].copy_(y[:, 0])),
    "narrow_view": lambda L, x, y: _view_op(x * 1, lambda v: v.narrow(1, 1, 1).sub_(y[:, :1])),
    "unsqueeze_select_views": lambda L, x, y: _view_op(x * 1, lambda v: v.unsqueeze(0).select(1, 1).clamp_(max=0.1)),
    "stale_overlapping_view": lambda L, x, y: _stale(x * 1, y),
    "getitem_iadd": lambda L, x, y: _getitem_iadd(x * 1, y),
    "view_base_then_view": lambda L, x, y: _base_then_view(x * 1, y),
}  # fmt: skip


def _iops(h, y):
    h += y
    h *= y
    h -= 1.0
    h /= 2.0
    return h


def _set(t, key, value):
    t[key] = value
    return t


def _view_op(base, op):
    op(base)
    return base * base


def _stale(base, y):
    row = base[0]
    col = base[:, 0]  # created before the change; overlaps row at [0, 0]
    row.mul_(y[1])
    return col * 2 + base.sum()


def _getitem_iadd(t, y):
    t[0] += y[1]
    t[1, 1:] *= y[0, 1:]
    return t


def _base_then_view(base, y):
    v = base[1]
    base.mul_(y)  # the base changes in place: the existing view sees its new history
    return v * v


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(CASES))
def test_inplace_matches_torch(name):
    compare_with_torch(CASES[name], [R.standard_normal((2, 3)), R.uniform(0.5, 1.5, (2, 3))])


@pytest.mark.torch
@pytest.mark.parametrize(
    "name", ["view_mul_", "setitem_int", "mul_operand", "stale_overlapping_view"]
)
def test_inplace_second_order_matches_torch(name):
    torch = pytest.importorskip("torch")
    a, b = R.standard_normal((2, 3)), R.uniform(0.5, 1.5, (2, 3))
    grads = []
    for lib in (dlx, torch):
        x, y = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        out = (CASES[name](lib, x, y) ** 2).sum()
        gx, gy = lib.autograd.grad(out, (x, y), create_graph=True)
        ((gx * gx).sum() + (gy * gx).sum()).backward()
        grads.append((x.grad.numpy(), y.grad.numpy()))
    for d, t in zip(grads[0], grads[1], strict=True):
        np.testing.assert_allclose(d, t, rtol=1e-9, atol=1e-12)


def test_inplace_keeps_identity_memory_and_bumps_version():
    x = dlx.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    arr, v = y.numpy(), y._version
    assert y.add_(1) is y
    assert y.numpy() is arr
    assert y._version == v + 1
    assert y.grad_fn.name() == "CopyBackward"
    base = x * 1
    view = base[0]
    view.mul_(3)
    assert base.grad_fn.name() == "CopySlicesBackward"
    assert view._base is base
    assert view.grad_fn is not None
    assert base._version == view._version == 1


def test_saved_values_modified_in_place_raise_at_backward():
    x = dlx.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    z = y * y  # saves y
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.sum().backward()
    e = x.exp()  # saves its output
    e.mul_(2)
    with pytest.raises(RuntimeError, match="its output 0 of ExpBackward"):
        e.sum().backward()
    v = (x * 1)[0]
    w = v * v
    v.base_sum = None  # unrelated attribute: no version change
    w.backward()


def test_refusals_name_the_rule():
    w = dlx.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        w.add_(1)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        w[0] = 0.0
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        w += 1
    with pytest.raises(RuntimeError, match="a view of a leaf Variable"):
        w[1:].mul_(2)
    y = w * 1
    with dlx.no_grad():
        v = y[0:2]
    with pytest.raises(RuntimeError, match="created in no_grad mode"):
        v.mul_(2)
    e = dlx.ones(3, 1).expand(3, 4)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        e.add_(1)
    ro = np.ones(3)
    ro.flags.writeable = False
    with pytest.raises(RuntimeError, match="read-only"):
        dlx.from_numpy(ro).mul_(2)
    i = dlx.zeros(3, dtype=dlx.long)
    with pytest.raises(TypeError, match="cannot be cast to the tensor's dtype int64"):
        i.add_(w)
    with pytest.raises(TypeError, match="cannot be cast"):
        i.add_(0.5)
    with pytest.raises(ValueError, match=r"cannot be written into a tensor of shape \(3,\)"):
        (w * 1).add_(dlx.ones(2, 3))
    with pytest.raises(ValueError, match=r"`other` of shape \(2, 3\)"):
        dlx.ones(3).add_(np.ones((2, 3)))
    with pytest.raises(RuntimeError, match="in-place shape changes"):
        (w * 1).unsqueeze_(0)


def test_no_grad_updates_stay_plain():
    w = dlx.tensor([1.0, 2.0], requires_grad=True)
    with dlx.no_grad():
        w.mul_(2).add_(1)
        w[0] = 10.0
        w[1:] += 1
        w.clamp_(max=8.0)
    np.testing.assert_allclose(w.numpy(), [8.0, 6.0])
    assert w.is_leaf
    assert w.grad_fn is None
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [16.0, 12.0])


def test_inplace_shape_methods_outside_the_graph():
    x = dlx.zeros(3)
    assert x.unsqueeze_(0).shape == (1, 3)
    assert x.squeeze_().shape == (3,)
    with pytest.raises(RuntimeError, match="view"):
        dlx.zeros(2, 3)[0].unsqueeze_(0)


def test_buffer_filled_row_by_row_trains():
    """A loop that writes rows of a buffer (an RNN's outputs) back-propagates into every
    step and into the values it overwrote."""
    w = dlx.tensor(R.standard_normal((3, 3)), requires_grad=True)
    h0 = dlx.tensor(R.standard_normal(3))
    out = dlx.zeros(4, 3, dtype=dlx.float64)
    h = h0
    for t in range(4):
        h = (w @ h).tanh()
        out[t] = h
    loss = (out**2).sum()
    loss.backward()
    g = w.grad.numpy().copy()

    def f(wv):
        hh, total = h0.numpy(), 0.0
        for _ in range(4):
            hh = np.tanh(wv @ hh)
            total += (hh**2).sum()
        return total

    num = np.zeros_like(g)
    for i in range(3):
        for j in range(3):
            e = np.zeros((3, 3))
            e[i, j] = 1e-6
            num[i, j] = (f(w.numpy() + e) - f(w.numpy() - e)) / 2e-6
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-8)
