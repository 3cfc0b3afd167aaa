"""mm/bmm/mv/dot/outer/addmm, einsum, norms (norm, linalg.norm/vector_norm/matrix_norm),
cumsum/cumprod/prod/logsumexp: NumPy references, torch oracle, gradcheck, zeros, errors."""

from __future__ import annotations

import numpy as np
import pytest
from tensor_oracle import compare_with_torch, gradcheck_arrays

import dlx

R = np.random.default_rng(9)


@pytest.mark.torch
@pytest.mark.parametrize(
    ("fn", "shapes"),
    [
        (lambda L, a, b: L.mm(a, b), [(2, 3), (3, 4)]),
        (lambda L, a, b: a.bmm(b), [(2, 2, 3), (2, 3, 4)]),
        (lambda L, a, b: L.mv(a, b), [(2, 3), (3,)]),
        (lambda L, a, b: a.dot(b), [(3,), (3,)]),
        (lambda L, a, b: L.outer(a, b), [(3,), (2,)]),
        (lambda L, c, a, b: L.addmm(c, a, b, beta=0.5, alpha=2.0), [(4,), (2, 3), (3, 4)]),
        (lambda L, a, b: L.einsum("ij,jk->ik", a, b), [(2, 3), (3, 4)]),
        (lambda L, a, b: L.einsum("bij,bjk->bik", a, b), [(2, 2, 3), (2, 3, 4)]),
        (lambda L, a: L.einsum("ii->i", a), [(3, 3)]),
        (lambda L, a: L.einsum("ii", a), [(3, 3)]),
        (lambda L, a: L.einsum("ij->", a), [(2, 3)]),
        (lambda L, a, b: L.einsum("i,j", a, b), [(3,), (2,)]),
        (lambda L, a, b: L.einsum("...ij,...jk", a, b), [(2, 1, 2, 3), (4, 3, 2)]),
        (lambda L, a, b: L.einsum("bi,bi->b", a, b), [(1, 3), (4, 3)]),
        (lambda L, a, b, c: L.einsum("ij,jk,kl->il", a, b, c), [(2, 3), (3, 4), (4, 2)]),
        (lambda L, a, b: L.einsum("ij, jk", [a, b]), [(2, 3), (3, 2)]),
    ],
)
def test_products_match_torch(fn, shapes):
    compare_with_torch(fn, [R.standard_normal(s) for s in shapes])


@pytest.mark.parametrize(
    ("fn", "shapes"),
    [
        (lambda a, b: dlx.mm(a, b), [(2, 3), (3, 2)]),
        (lambda a, b: dlx.einsum("bij,bjk->bik", a, b), [(2, 2, 3), (2, 3, 2)]),
        (lambda a: dlx.einsum("ii->", a), [(3, 3)]),
        (lambda a, b: dlx.einsum("ij,j->i", a, b), [(1, 3), (3,)]),
        (lambda a, b: dlx.outer(a, b), [(3,), (2,)]),
    ],
)
def test_products_gradcheck(fn, shapes):
    gradcheck_arrays(fn, [R.standard_normal(s) for s in shapes])


def test_einsum_matches_numpy_and_errors():
    a, b = R.standard_normal((2, 3)), R.standard_normal((3, 4))
    out = dlx.einsum("ij,jk->ik", dlx.tensor(a), dlx.tensor(b))
    np.testing.assert_allclose(out.numpy(), np.einsum("ij,jk->ik", a, b))
    with pytest.raises(ValueError, match="2 operands but 1"):
        dlx.einsum("ij,jk", dlx.tensor(a))
    with pytest.raises(ValueError, match="subscript 'j' has sizes 3 and 4"):
        dlx.einsum("ij,jk", dlx.tensor(a), dlx.tensor(b.T))
    with pytest.raises(ValueError, match="do not match operand 0"):
        dlx.einsum("ijk", dlx.tensor(a))
    with pytest.raises(ValueError, match="distinct letters"):
        dlx.einsum("ij->iz", dlx.tensor(a))
    with pytest.raises(TypeError, match="`equation` must be a string"):
        dlx.einsum(dlx.tensor(a), dlx.tensor(b))


def test_product_shape_errors():
    with pytest.raises(ValueError, match="`mat2` must be 2-D"):
        dlx.mm(dlx.ones(2, 3), dlx.ones(3))
    with pytest.raises(ValueError, match="batch sizes differ"):
        dlx.bmm(dlx.ones(2, 2, 3), dlx.ones(3, 3, 2))
    with pytest.raises(ValueError, match="not aligned"):
        dlx.mv(dlx.ones(2, 3), dlx.ones(2))
    with pytest.raises(ValueError, match="`other` has 2"):
        dlx.dot(dlx.ones(3), dlx.ones(2))


# -- norms ----------------------------------------------------------------------------------
@pytest.mark.torch
@pytest.mark.parametrize(
    "fn",
    [
        lambda L, x: x.norm(),
        lambda L, x: L.norm(x, dim=1),
        lambda L, x: x.norm(p=1, dim=0, keepdim=True),
        lambda L, x: x.norm(3),
        lambda L, x: L.norm(x, p=float("inf"), dim=1),
        lambda L, x: L.norm(x, p=0.5),
        lambda L, x: L.linalg.norm(x),
        lambda L, x: L.linalg.norm(x, 1),
        lambda L, x: L.linalg.norm(x, float("inf")),
        lambda L, x: L.linalg.norm(x, dim=1),
        lambda L, x: L.linalg.norm(x[0], 3),
        lambda L, x: L.linalg.vector_norm(x, 2, dim=(0, 1)),
        lambda L, x: L.linalg.vector_norm(x, float("-inf"), dim=1),
        lambda L, x: L.linalg.vector_norm(x, 0),
        lambda L, x: L.linalg.vector_norm(x, -1, dim=1),
        lambda L, x: L.linalg.matrix_norm(x),
        lambda L, x: L.linalg.matrix_norm(x, -1),
        lambda L, x: L.linalg.matrix_norm(x, float("-inf"), keepdim=True),
    ],
)
def test_norms_match_torch(fn):
    compare_with_torch(fn, [R.standard_normal((3, 4))])


@pytest.mark.torch
def test_norm_gradient_at_zero_matches_torch():
    a = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, -2.0]])
    for p in (2, 1, 0.5, 3):
        compare_with_torch(lambda L, x, p=p: L.linalg.vector_norm(x, p, dim=1), [a])


@pytest.mark.parametrize("p", [2, 1, 3, 0.7, float("inf")])
def test_vector_norm_gradcheck(p):
    gradcheck_arrays(lambda x: dlx.linalg.vector_norm(x, p, dim=1), [R.uniform(0.2, 1, (2, 3))])


def test_norm_errors():
    x = dlx.ones(2, 3)
    with pytest.raises(ValueError, match="not implemented"):
        dlx.norm(x, "nuc")
    with pytest.raises(ValueError, match="singular-value norms"):
        dlx.linalg.matrix_norm(x, 2)
    with pytest.raises(ValueError, match="pair of dimensions"):
        dlx.linalg.matrix_norm(x, dim=0)
    with pytest.raises(TypeError, match="`ord` must be a number"):
        dlx.linalg.vector_norm(x, "fro")
    with pytest.raises(ValueError, match="1-D or 2-D"):
        dlx.linalg.norm(dlx.ones(2, 2, 2), 1)


# -- scans and products -----------------------------------------------------------------------
@pytest.mark.torch
@pytest.mark.parametrize(
    ("fn", "a"),
    [
        (lambda L, x: x.cumsum(1), R.standard_normal((2, 3))),
        (lambda L, x: L.cumsum(x, dim=0), R.standard_normal((2, 3))),
        (lambda L, x: x.cumprod(1), R.standard_normal((2, 4))),
        (lambda L, x: L.cumprod(x, 1), np.array([[0.5, 0.0, -1.2, 0.8], [0.0, 0.7, 0.0, 1.1]])),
        (lambda L, x: x.prod(), R.standard_normal((2, 3))),
        (lambda L, x: L.prod(x, 1, keepdim=True), R.standard_normal((2, 3))),
        (lambda L, x: x.prod(1), np.array([[0.5, 0.0, -1.2], [0.0, 0.0, 2.0]])),
        (lambda L, x: x.prod(), np.array([[0.5, 0.0, -1.2], [1.5, 3.0, 2.0]])),
        (lambda L, x: x.logsumexp(1), R.standard_normal((2, 3))),
        (lambda L, x: L.logsumexp(x, (0, 1), keepdim=True), R.standard_normal((2, 3)) * 50),
        (lambda L, x: L.logsumexp(x, 0), np.array([[-np.inf, 1.0], [-np.inf, 2.0]])),
    ],
)
def test_scans_match_torch(fn, a):
    compare_with_torch(fn, [a])


@pytest.mark.parametrize(
    ("fn", "a"),
    [
        (lambda x: x.cumsum(0), R.standard_normal((3, 2))),
        (lambda x: x.cumprod(1), np.array([[0.5, 0.0, -1.2, 0.8], [0.3, 0.7, -0.9, 1.1]])),
        (lambda x: x.prod(1), np.array([[0.5, 0.0, -1.2], [0.0, 0.0, 2.0], [1.0, 2.0, 3.0]])),
        (lambda x: x.logsumexp(1), R.standard_normal((2, 3))),
    ],
)
def test_scans_gradcheck(fn, a):
    gradcheck_arrays(fn, [a])


def test_scan_dtypes():
    i = dlx.tensor([1, 2, 3])
    assert i.cumsum(0).dtype == np.int64
    assert dlx.tensor([True, True]).cumsum(0).numpy().tolist() == [1, 2]
    assert i.prod().item() == 6
    assert dlx.cumsum(dlx.tensor([1.0, 2.0]), 0, dtype=dlx.float64).dtype == np.float64
    assert dlx.logsumexp(i, 0).dtype == np.float32
    with pytest.raises(ValueError, match="`dim` must be in"):
        i.cumsum(1)
