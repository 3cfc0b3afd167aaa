from __future__ import annotations

import copy

import numpy as np
import pytest

import dlx


# -- creation and dtype policy ------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (1.5, np.float32),
        ([1.0, 2.0], np.float32),
        ([[1, 2], [3, 4]], np.int64),
        (3, np.int64),
        ([True, False], np.bool_),
        (np.zeros(3), np.float64),
        (np.zeros(3, np.float32), np.float32),
        (np.arange(3, dtype=np.int32), np.int32),
        (np.float64(2.0), np.float64),
    ],
)
def test_tensor_dtype_policy(data, expected):
    assert dlx.tensor(data).dtype == expected


def test_tensor_explicit_dtype_and_copy():
    a = np.arange(4.0)
    t = dlx.tensor(a, dtype=dlx.float32)
    assert t.dtype == np.float32
    u = dlx.tensor(a)
    a[0] = 100
    assert u.data[0] == 0  # dlx.tensor copies


def test_tensor_rejects_bad_dtypes():
    with pytest.raises(TypeError, match="`data` must hold"):
        dlx.tensor(np.array(["a", "b"]))
    with pytest.raises(TypeError, match="`dtype`"):
        dlx.tensor([1.0], dtype=np.complex64)
    with pytest.raises(TypeError, match="`dtype`"):
        dlx.tensor([1.0], dtype="not-a-dtype")


def test_from_numpy_and_numpy_share_memory():
    a = np.arange(6.0).reshape(2, 3)
    t = dlx.from_numpy(a)
    assert t.numpy() is a
    assert t.numpy() is a
    assert np.asarray(t) is a
    a[0, 0] = 7
    assert t[0, 0].item() == 7
    with pytest.raises(TypeError, match=r"`array` must be a numpy\.ndarray"):
        dlx.from_numpy([1, 2])


def test_tensor_properties():
    t = dlx.tensor(np.zeros((2, 3, 4)))
    assert t.shape == (2, 3, 4)
    assert t.ndim == 3
    assert t.dim() == 3
    assert t.size() == (2, 3, 4)
    assert t.size(1) == 3
    assert t.numel() == 24
    assert len(t) == 2
    assert t.device == "cpu"
    assert t.T.shape == (4, 3, 2)
    assert t.is_leaf
    assert t.grad is None
    assert t.grad_fn is None
    with pytest.raises(TypeError, match="0-d"):
        len(dlx.tensor(1.0))


def test_tensor_item_and_conversions():
    assert dlx.tensor([[2.5]]).item() == 2.5
    assert float(dlx.tensor(1.5)) == 1.5
    assert int(dlx.tensor(3)) == 3
    assert [0, 1, 2][dlx.tensor(1)] == 1
    assert dlx.tensor([1, 2]).tolist() == [1, 2]
    with pytest.raises(ValueError, match="exactly one element"):
        dlx.tensor([1.0, 2.0]).item()
    assert np.asarray(dlx.tensor([1.0, 2.0]), dtype=np.float64).dtype == np.float64


def test_tensor_repr_like_pytorch():
    assert repr(dlx.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(dlx.tensor([1.0], requires_grad=True)) == "tensor([1.], requires_grad=True)"
    assert repr(dlx.tensor(np.array([1.0]))) == "tensor([1.], dtype=float64)"
    y = dlx.tensor([1.0], requires_grad=True) * 2
    assert repr(y) == "tensor([2.], grad_fn=<MulBackward>)"


def test_tensor_requires_grad_rules():
    with pytest.raises(RuntimeError, match="only floating-point"):
        dlx.tensor([1, 2], requires_grad=True)
    x = dlx.tensor([1.0]).requires_grad_()
    assert x.requires_grad
    y = x * 2
    assert y.requires_grad
    assert not y.is_leaf
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False
    d = y.detach()
    assert not d.requires_grad
    assert d.is_leaf
    assert d.numpy() is y.numpy()


def test_tensor_grad_setter_validates():
    x = dlx.tensor([1.0, 2.0], requires_grad=True)
    x.grad = np.ones(2, np.float32)
    with pytest.raises(ValueError, match="shape"):
        x.grad = np.ones(3, np.float32)
    with pytest.raises(TypeError, match="dtype"):
        x.grad = np.ones(2, np.float64)
    x.grad = None
    assert x.grad is None


# -- in-place ops and version counters -----------------------------------------------------
def test_inplace_ops_bump_version_and_keep_identity():
    t = dlx.tensor([1.0, 2.0, 3.0])
    arr = t.numpy()
    v = t._version
    t.add_(1).mul_(2).sub_(1, alpha=2).div_(2)
    np.testing.assert_allclose(t.data, [1.0, 2.0, 3.0])
    t.clamp_(1.5, 2.5)
    np.testing.assert_allclose(t.data, [1.5, 2.0, 2.5])
    t.zero_()
    t.fill_(4.0)
    t.copy_(np.array([7.0, 8.0, 9.0]))
    t[0] = 0.0
    assert t.numpy() is arr
    assert t._version == v + 9
    np.testing.assert_allclose(t.data, [0.0, 8.0, 9.0])


def test_inplace_broadcast_error_names_shapes():
    t = dlx.zeros(2, 3)
    with pytest.raises(ValueError, match=r"\(4,\) cannot be broadcast to \(2, 3\)"):
        t.add_(np.ones(4))
    with pytest.raises(ValueError, match="copy_"):
        t.copy_(np.ones(4))


def test_inplace_on_leaf_requiring_grad_needs_no_grad():
    w = dlx.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        w.add_(1)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w[0] = 3.0
    with dlx.no_grad():
        w.add_(1)
        w -= 0.5
    assert w.item() == 1.5
    assert w.is_leaf
    assert w.requires_grad


def test_iadd_on_graph_tensor_is_in_place_and_recorded():
    x = dlx.tensor([1.0, 2.0], requires_grad=True)
    h = x * 2
    h_before = h
    h += x
    assert h is h_before
    h.sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 3.0])


def test_iadd_plain_tensor_is_in_place():
    t = dlx.tensor([1.0, 2.0])
    same = t
    t += 1
    t *= 2
    t /= 4
    t -= 1
    assert t is same
    np.testing.assert_allclose(t.data, [0.0, 0.5])


def test_views_share_version_counter():
    x = dlx.tensor(np.arange(6.0).reshape(2, 3))
    v = x[0]
    r = x.reshape(3, 2)
    d = x.detach()
    v.add_(1)
    assert x._version == r._version == d._version == 1
    c = x[[0, 1]]  # advanced indexing copies: own counter
    x.add_(1)
    assert c._version == 0


# -- comparisons, hashing, iteration --------------------------------------------------------
def test_comparisons_give_bool_tensors():
    a = dlx.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for r in (a > 1.5, a >= 2, a < 2, a <= 2, a == 2, a != 2):
        assert r.dtype == np.bool_
        assert not r.requires_grad
    np.testing.assert_array_equal((a == dlx.tensor([1.0, 0.0, 3.0])).data, [True, False, True])
    assert len({a, a}) == 1  # hashable by identity


def test_iteration_yields_rows():
    t = dlx.tensor([[1.0, 2.0], [3.0, 4.0]])
    rows = list(t)
    assert [r.tolist() for r in rows] == [[1.0, 2.0], [3.0, 4.0]]


def test_ndarray_operand_defers_to_tensor():
    x = dlx.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0], np.float32) * x
    assert isinstance(y, dlx.Tensor)
    assert y.requires_grad
    z = np.ones((3, 2), np.float32) @ x
    assert isinstance(z, dlx.Tensor)
    assert z.shape == (3,)


# -- factories, seeds, conversions ----------------------------------------------------------
def test_factories():
    assert dlx.zeros(2, 3).shape == (2, 3)
    assert dlx.zeros((2, 3)).dtype == np.float32
    assert dlx.ones(4, dtype=dlx.float64).dtype == np.float64
    assert dlx.full((2,), 7).dtype == np.int64
    assert dlx.full((2,), 0.5).dtype == np.float32
    assert dlx.arange(5).dtype == np.int64
    assert dlx.arange(0.0, 1.0, 0.25).dtype == np.float32
    assert dlx.zeros_like(dlx.ones(2, 2)).shape == (2, 2)
    assert dlx.ones_like(np.zeros(3)).dtype == np.float64
    assert dlx.empty(0, 3).shape == (0, 3)
    assert dlx.randn(3, 4, requires_grad=True).requires_grad


def test_manual_seed_makes_random_factories_reproducible():
    dlx.manual_seed(123)
    a = dlx.randn(5).numpy().copy()
    b = dlx.rand(5).numpy().copy()
    dlx.manual_seed(123)
    np.testing.assert_array_equal(dlx.randn(5).data, a)
    np.testing.assert_array_equal(dlx.rand(5).data, b)
    g = np.random.default_rng(1)
    assert dlx.randn(2, generator=g).shape == (2,)
    with pytest.raises(ValueError, match="`seed`"):
        dlx.manual_seed(-1)
    with pytest.raises(TypeError, match="`generator`"):
        dlx.randn(2, generator=1)


def test_dtype_conversions_are_differentiable():
    x = dlx.tensor([1.0, 2.0], requires_grad=True)
    y = x.double()
    assert y.dtype == np.float64
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, [2.0, 4.0])
    assert x.to(dlx.float32) is x
    assert x.to("cpu") is x
    assert x.long().dtype == np.int64
    assert not x.long().requires_grad
    with pytest.raises(RuntimeError, match="runs on the CPU"):
        x.to(device="cuda")


def test_clone_and_contiguous():
    x = dlx.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    c = x.clone()
    assert c.numpy() is not x.data
    assert not np.shares_memory(c.data, x.data)
    t = x.T
    assert not t.numpy().flags.c_contiguous
    assert t.contiguous().numpy().flags.c_contiguous
    assert x.contiguous() is x
    (t.contiguous() * 2).sum().backward()
    np.testing.assert_allclose(x.grad, np.full((2, 3), 2.0))


def test_deepcopy_leaf_only():
    p = dlx.nn.Parameter(np.ones(3, np.float32))
    q = copy.deepcopy(p)
    assert isinstance(q, dlx.nn.Parameter)
    assert q.requires_grad
    assert q.numpy() is not p.data
    np.testing.assert_array_equal(q.data, p.data)
    with pytest.raises(RuntimeError, match="leaf"):
        copy.deepcopy(p * 2)
