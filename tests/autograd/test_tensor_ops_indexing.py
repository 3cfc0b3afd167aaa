"""gather/scatter/scatter_add, index_select, take, take_along_dim, masked_select/fill,
nonzero, index_put: NumPy references, torch oracle, gradcheck and errors."""

from __future__ import annotations

import numpy as np
import pytest
from tensor_oracle import compare_with_torch, gradcheck_arrays

import dlx

R = np.random.default_rng(3)
IDX = np.array([[0, 2, 2], [1, 0, 1]])  # repeats: gradients must add up


def _torch_index(L, a):
    return L.tensor(a) if L is not dlx else dlx.tensor(a)


@pytest.mark.torch
@pytest.mark.parametrize(
    "fn",
    [
        lambda L, x: L.gather(x, 1, _torch_index(L, IDX)),
        lambda L, x: x.gather(0, _torch_index(L, np.array([[1, 0, 1, 0], [0, 0, 1, 1]]))),
        lambda L, x: x.gather(1, _torch_index(L, np.array([[3], [0]]))),  # smaller index
        lambda L, x, s: L.scatter(x, 1, _torch_index(L, np.array([[0, 2], [1, 3]])), s[:, :2]),
        lambda L, x, s: x.scatter_add(1, _torch_index(L, IDX), s[:, :3]),
        lambda L, x: x.scatter(0, _torch_index(L, np.array([[1, 0, 1, 0]])), 2.5),
        lambda L, x: L.index_select(x, 1, _torch_index(L, np.array([3, 0, 0]))),
        lambda L, x: x.index_select(0, _torch_index(L, np.array([1]))),
        lambda L, x: L.take_along_dim(x, _torch_index(L, IDX), 1),
        lambda L, x: L.take_along_dim(x, _torch_index(L, np.array([[1, 1, 0, 1]])), 0),
        lambda L, x: L.take_along_dim(x, _torch_index(L, np.array([5, 0, 7]))),
        lambda L, x: L.take(x, _torch_index(L, np.array([[7, 0], [7, 3]]))),
        lambda L, x: L.masked_select(x, _torch_index(L, np.array([True, False, True, True]))),
        lambda L, x: x.masked_fill(_torch_index(L, np.array([[True], [False]])), -1.5),
        lambda L, x: x[_torch_index(L, np.array([1, 0, 1]))][:, 1:],
    ],
    ids=[
        "gather", "gather0", "gather_small", "scatter", "scatter_add", "scatter_value",
        "index_select", "index_select_row", "take_along_dim", "take_along_dim_bcast",
        "take_along_flat", "take", "masked_select", "masked_fill", "fancy_index",
    ],
)  # fmt: skip
def test_indexing_matches_torch(fn):
    x = R.standard_normal((2, 4))
    s = R.standard_normal((2, 4))
    n = fn.__code__.co_argcount - 1
    compare_with_torch(fn, [x, s][:n])


@pytest.mark.torch
def test_masked_fill_with_tensor_value_and_nonzero_match_torch():
    torch = pytest.importorskip("torch")
    m = np.array([[True, False, True], [False, False, True]])
    compare_with_torch(
        lambda L, x, v: x.masked_fill(_torch_index(L, m), v.sum()),
        [R.standard_normal((2, 3)), R.standard_normal(2)],
    )
    a = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]])
    np.testing.assert_array_equal(
        dlx.nonzero(dlx.tensor(a)).numpy(), torch.nonzero(torch.tensor(a))
    )
    for d, t in zip(
        dlx.tensor(a).nonzero(as_tuple=True), torch.tensor(a).nonzero(as_tuple=True), strict=True
    ):
        np.testing.assert_array_equal(d.numpy(), t.numpy())
    assert dlx.argwhere(dlx.tensor(a)).shape == (3, 2)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.gather(1, dlx.tensor(IDX)),
        lambda x, s: x.scatter_add(1, dlx.tensor(IDX), s),
        lambda x, s: x.scatter(1, dlx.tensor(np.array([[0, 2], [1, 3]])), s),
        lambda x: dlx.index_select(x, 1, dlx.tensor(np.array([3, 0, 0]))),
        lambda x: dlx.take_along_dim(x, dlx.tensor(IDX), 1),
        lambda x: dlx.masked_select(x, dlx.tensor(np.array([True, False, True, True]))),
        lambda x, v: dlx.masked_fill(x, np.array([True, False, False, True]), v.sum()),
        lambda x, s: dlx.index_put(x, (np.array([0, 1, 0]), np.array([1, 2, 3])), s[0, :3]),
    ],
)
def test_indexing_gradcheck(fn):
    n = fn.__code__.co_argcount
    gradcheck_arrays(fn, [R.standard_normal((2, 4)), R.standard_normal((2, 4))][:n])


def test_index_put_accumulate_and_inplace():
    x = dlx.zeros(4)
    out = dlx.index_put(x, (dlx.tensor([0, 1, 0]),), dlx.tensor([1.0, 2.0, 3.0]), accumulate=True)
    np.testing.assert_allclose(out.numpy(), [4.0, 2.0, 0.0, 0.0])
    assert x.numpy().sum() == 0
    x.index_put_((dlx.tensor([3]),), dlx.tensor(5.0))
    np.testing.assert_allclose(x.numpy(), [0.0, 0.0, 0.0, 5.0])
    y = dlx.zeros(2, 3)
    y.scatter_(1, dlx.tensor([[2], [0]]), 1.0)
    np.testing.assert_allclose(y.numpy(), [[0, 0, 1], [1, 0, 0]])
    y.scatter_add_(0, dlx.tensor([[1, 1, 1]]), dlx.ones(1, 3))
    np.testing.assert_allclose(y.numpy(), [[0, 0, 1], [2, 1, 1]])
    y.masked_fill_(y.numpy() > 1, 0.0)
    np.testing.assert_allclose(y.numpy(), [[0, 0, 1], [0, 1, 1]])


def test_indexing_errors_name_the_argument():
    x = dlx.ones(2, 3)
    with pytest.raises(ValueError, match=r"`index` values must lie in \[-3, 3\)"):
        x.gather(1, dlx.tensor([[3]]))
    with pytest.raises(TypeError, match="`index` must be an integer tensor"):
        x.gather(1, dlx.tensor([[0.0]]))
    with pytest.raises(ValueError, match="as many dimensions"):
        x.gather(1, dlx.tensor([0]))
    with pytest.raises(ValueError, match="larger than `input`"):
        x.gather(1, dlx.tensor([[0], [0], [0]]))
    with pytest.raises(ValueError, match="`src`"):
        x.scatter(1, dlx.tensor([[0, 1]]), dlx.ones(1, 1))
    with pytest.raises(TypeError, match="give `src`"):
        x.scatter(1, dlx.tensor([[0]]))
    with pytest.raises(TypeError, match="`mask` must be a bool"):
        x.masked_fill(dlx.ones(2, 3), 0.0)
    with pytest.raises(ValueError, match="cannot be broadcast"):
        x.masked_fill(np.ones((4, 3), bool), 0.0)
    with pytest.raises(ValueError, match="0-d tensor"):
        x.masked_fill(np.ones(3, bool), dlx.ones(2))
    with pytest.raises(ValueError, match="0-D or 1-D"):
        x.index_select(0, dlx.tensor([[0]]))
    with pytest.raises(ValueError, match="`indices` values"):
        dlx.take_along_dim(x, dlx.tensor([[5]]), 1)
