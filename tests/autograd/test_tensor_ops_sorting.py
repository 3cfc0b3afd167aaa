"""max/min with a dim, sort, argsort, topk, kthvalue, median: (values, indices) named
tuples as in PyTorch, gradients through the values, NumPy references, torch oracle,
gradcheck and errors."""

from __future__ import annotations

import numpy as np
import pytest
from tensor_oracle import compare_with_torch, gradcheck_arrays

import dlx

R = np.random.default_rng(11)


def distinct(*shape):
    n = int(np.prod(shape))
    return R.permutation(np.linspace(-2, 2, n)).reshape(shape)


def test_max_dim_returns_values_and_indices():
    a = distinct(3, 4)
    x = dlx.tensor(a)
    res = x.max(1)
    values, indices = res  # unpacks like torch.return_types.max
    assert res.values is values
    assert res.indices is indices
    np.testing.assert_allclose(values.numpy(), a.max(1))
    np.testing.assert_array_equal(indices.numpy(), a.argmax(1))
    assert indices.dtype == np.int64
    assert type(res).__name__ == "max"
    _, pred = dlx.max(x, 1)  # the tutorial idiom
    np.testing.assert_array_equal(pred.numpy(), a.argmax(1))
    kept = dlx.min(x, dim=0, keepdim=True)
    assert kept.values.shape == (1, 4)
    np.testing.assert_array_equal(kept.indices.numpy(), a.argmin(0)[None])
    np.testing.assert_allclose(x.max(axis=1).values.numpy(), a.max(1))  # NumPy's spelling


def test_full_max_and_elementwise_forms():
    a, b = distinct(2, 3), distinct(2, 3)
    x, y = dlx.tensor(a), dlx.tensor(b)
    assert x.max().shape == ()
    assert x.max().item() == a.max()
    np.testing.assert_allclose(dlx.max(x, y).numpy(), np.maximum(a, b))
    np.testing.assert_allclose(x.min(y).numpy(), np.minimum(a, b))
    assert dlx.max is dlx.Tensor.max
    assert dlx.sort is dlx.Tensor.sort
    assert np.max(x).item() == a.max()  # NumPy calls .max(axis=None, out=None)


@pytest.mark.torch
@pytest.mark.parametrize(
    "fn",
    [
        lambda L, x: x.max(1),
        lambda L, x: L.min(x, 0, keepdim=True),
        lambda L, x: x.max(dim=-1, keepdim=False),
        lambda L, x: x.sort(1),
        lambda L, x: L.sort(x, 0, descending=True),
        lambda L, x: x.topk(2, 1),
        lambda L, x: L.topk(x, 3, dim=0, largest=False),
        lambda L, x: x.kthvalue(2, 1),
        lambda L, x: L.kthvalue(x, 3, 0, keepdim=True),
        lambda L, x: x.median(1),
        lambda L, x: L.median(x, 0, keepdim=True),
        lambda L, x: x.median(),
        lambda L, x: x.max(),
    ],
)
def test_selections_match_torch(fn):
    compare_with_torch(fn, [distinct(4, 5)])


@pytest.mark.torch
def test_ties_and_nan_match_torch():
    torch = pytest.importorskip("torch")
    a = np.array([[1.0, 3.0, 3.0, 2.0, 3.0], [0.0, 0.0, -1.0, 0.0, 5.0]])
    for desc in (False, True):
        v, i = dlx.tensor(a).sort(1, descending=desc)
        tv, ti = torch.tensor(a).sort(dim=1, descending=desc, stable=True)
        np.testing.assert_array_equal(v.numpy(), tv.numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
    # full max/min/median share the gradient among ties, as in torch
    compare_with_torch(lambda L, x: x.max() + x.median() + x.min(), [a])
    n = np.array([[1.0, np.nan, 3.0], [2.0, 1.0, 0.0]])
    for name in ("max", "min", "median"):
        v, i = getattr(dlx.tensor(n), name)(1)
        tv, ti = getattr(torch.tensor(n), name)(1)
        np.testing.assert_array_equal(v.numpy(), tv.numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
    v, i = dlx.tensor(n).sort(1)
    tv, ti = torch.tensor(n).sort(1)
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    assert np.isnan(dlx.tensor(n).median().item())


def test_gradient_goes_to_selected_positions():
    x = dlx.tensor([[1.0, 5.0, 5.0], [2.0, 0.0, 7.0]], requires_grad=True)
    v, _ = x.max(1)
    v.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 1, 0], [0, 0, 1]])  # the first maximum
    x.grad = None
    x.sort(1, descending=True).values[:, 0].sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0, 1, 0], [0, 0, 1]])


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.max(1).values,
        lambda x: x.min(0, keepdim=True).values,
        lambda x: x.sort(1, descending=True).values,
        lambda x: x.topk(2, 0).values,
        lambda x: x.kthvalue(2, 1).values,
        lambda x: x.median(0).values,
        lambda x: x.median(),
    ],
)
def test_selection_gradcheck(fn):
    gradcheck_arrays(fn, [distinct(3, 4)])


def test_argsort_and_zero_d():
    a = distinct(3, 4)
    x = dlx.tensor(a)
    np.testing.assert_array_equal(x.argsort(1).numpy(), np.argsort(a, 1, kind="stable"))
    np.testing.assert_array_equal(
        dlx.argsort(x, 0, descending=True).numpy(), np.argsort(-a, 0, kind="stable")
    )
    s = dlx.tensor(2.5, requires_grad=True)
    v, i = s.max(0)
    assert v.shape == ()
    assert i.item() == 0
    v.backward()
    assert s.grad.item() == 1.0
    assert s.sort().values.item() == 2.5
    assert s.topk(1).values.shape == ()


def test_selection_errors():
    x = dlx.tensor(distinct(2, 3))
    with pytest.raises(ValueError, match="`k` must be in"):
        x.topk(4, 1)
    with pytest.raises(ValueError, match="`k` must be in"):
        x.kthvalue(0, 1)
    with pytest.raises(ValueError, match="`dim` must be in"):
        x.max(2)
    with pytest.raises(ValueError, match="size 0"):
        dlx.zeros(2, 0).max(1)
    with pytest.raises(ValueError, match="empty"):
        dlx.zeros(0).median()
    with pytest.raises(TypeError, match="`k` must be an int"):
        x.topk(1.5)
