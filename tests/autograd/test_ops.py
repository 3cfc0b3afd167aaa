from __future__ import annotations

import numpy as np
import pytest

import dlx
from dlx._ops import linalg


def normal(*shape):
    return lambda rng: rng.standard_normal(shape)


def positive(*shape):
    return lambda rng: np.abs(rng.standard_normal(shape)) + 0.5


def distinct(*shape):
    # well-separated values: no ties, no kinks within eps
    return lambda rng: rng.permutation(np.prod(shape, dtype=int)).reshape(shape) * 0.37 - 1.1


MASK = np.array([[True, False, True], [False, False, True]])

# (id, fn(lib, *inputs), input makers). `lib` is dlx, or torch for the oracle tests: the
# expressions are written so they mean the same thing in both libraries.
CASES = [
    ("add", lambda L, a, b: a + b, [normal(2, 3), normal(3)]),
    ("add_broadcast_both", lambda L, a, b: a + b, [normal(2, 1, 3), normal(4, 1)]),
    ("add_scalar", lambda L, a: 2.5 + a + 1, [normal(3)]),
    ("sub", lambda L, a, b: a - b, [normal(2, 3), normal(2, 1)]),
    ("rsub_scalar", lambda L, a: 1 - a, [normal(4)]),
    ("mul", lambda L, a, b: a * b, [normal(2, 3), normal(1, 3)]),
    ("mul_scalar", lambda L, a: a * 3 * 0.5, [normal(3)]),
    ("div", lambda L, a, b: a / b, [normal(2, 3), positive(3)]),
    ("rdiv_scalar", lambda L, a: 2 / a, [positive(3)]),
    ("pow_int", lambda L, a: a**3, [normal(2, 3)]),
    ("pow_square", lambda L, a: a**2, [normal(5)]),
    ("pow_frac", lambda L, a: a**1.5, [positive(4)]),
    ("pow_negative", lambda L, a: a**-2, [positive(4)]),
    ("pow_tensor", lambda L, a, b: a**b, [positive(2, 3), normal(3)]),
    ("rpow_scalar", lambda L, a: 2.0**a, [normal(3)]),
    ("neg", lambda L, a: -a, [normal(2, 2)]),
    ("exp", lambda L, a: a.exp(), [normal(2, 3)]),
    ("log", lambda L, a: a.log(), [positive(2, 3)]),
    ("sqrt", lambda L, a: a.sqrt(), [positive(2, 3)]),
    ("abs", lambda L, a: a.abs(), [distinct(2, 3)]),
    ("clamp", lambda L, a: a.clamp(-0.5, 0.6), [distinct(3, 4)]),
    ("clamp_min", lambda L, a: a.clamp(min=0.1), [distinct(3, 4)]),
    ("relu", lambda L, a: a.relu(), [distinct(3, 4)]),
    ("sigmoid", lambda L, a: a.sigmoid(), [normal(3, 4)]),
    ("tanh", lambda L, a: a.tanh(), [normal(3, 4)]),
    ("maximum", lambda L, a, b: L.maximum(a, b), [distinct(2, 3), normal(3)]),
    ("minimum", lambda L, a, b: L.minimum(a, b), [distinct(2, 3), normal(3)]),
    ("where", lambda L, a, b: L.where(L.tensor(MASK), a, b), [normal(2, 3), normal(3)]),
    ("matmul_2d", lambda L, a, b: a @ b, [normal(3, 4), normal(4, 5)]),
    ("matmul_transposed", lambda L, a, b: a.T @ b.T, [normal(4, 3), normal(5, 4)]),
    ("matmul_1d_2d", lambda L, a, b: a @ b, [normal(4), normal(4, 3)]),
    ("matmul_2d_1d", lambda L, a, b: a @ b, [normal(3, 4), normal(4)]),
    ("matmul_1d_1d", lambda L, a, b: a @ b, [normal(4), normal(4)]),
    ("matmul_batched", lambda L, a, b: a @ b, [normal(2, 3, 4), normal(4, 5)]),
    ("matmul_batch_broadcast", lambda L, a, b: a @ b, [normal(2, 1, 3, 4), normal(3, 4, 2)]),
    ("matmul_batched_1d", lambda L, a, b: a @ b, [normal(4), normal(2, 4, 3)]),
    ("sum_all", lambda L, a: a.sum(), [normal(2, 3)]),
    ("sum_dim", lambda L, a: a.sum(dim=1), [normal(2, 3, 4)]),
    ("sum_dims_keepdim", lambda L, a: a.sum(dim=(0, 2), keepdim=True), [normal(2, 3, 4)]),
    ("mean_all", lambda L, a: a.mean(), [normal(2, 3)]),
    ("mean_dim", lambda L, a: a.mean(dim=-1, keepdim=True), [normal(2, 3, 4)]),
    ("max_all", lambda L, a: a.max(), [distinct(3, 4)]),
    ("amax_dim", lambda L, a: a.amax(dim=1), [distinct(3, 4)]),
    ("amin_dim_keepdim", lambda L, a: a.amin(dim=0, keepdim=True), [distinct(3, 4)]),
    ("var_all", lambda L, a: a.var(), [normal(3, 4)]),
    ("var_dim", lambda L, a: a.var(dim=1, keepdim=True), [normal(3, 4)]),
    ("var_biased", lambda L, a: a.var(dim=0, correction=0), [normal(3, 4)]),
    ("std_dim", lambda L, a: a.std(dim=1), [normal(3, 4)]),
    ("reshape", lambda L, a: a.reshape(3, -1) * 1, [normal(2, 6)]),
    ("view", lambda L, a: a.view(4, 3) * 1, [normal(2, 6)]),
    ("permute", lambda L, a: a.permute(2, 0, 1) * 1, [normal(2, 3, 4)]),
    ("transpose", lambda L, a: a.transpose(0, 2) * 1, [normal(2, 3, 4)]),
    ("T", lambda L, a: a.T * 1, [normal(2, 3)]),
    ("flatten", lambda L, a: a.flatten(1) * 1, [normal(2, 3, 4)]),
    ("squeeze", lambda L, a: a.squeeze(1) * 1, [normal(2, 1, 3)]),
    ("unsqueeze", lambda L, a: a.unsqueeze(-1) * 1, [normal(2, 3)]),
    ("expand", lambda L, a: a.expand(4, 2, 3) * 1, [normal(2, 1)]),
    ("cat", lambda L, a, b: L.cat([a, b, a], dim=1), [normal(2, 3), normal(2, 2)]),
    ("stack", lambda L, a, b: L.stack([a, b], dim=1), [normal(2, 3), normal(2, 3)]),
    ("index_slice", lambda L, a: a[1:, ::2], [normal(3, 5)]),
    ("index_int", lambda L, a: a[1, -1], [normal(3, 5)]),
    ("index_none_ellipsis", lambda L, a: a[None, ..., 1], [normal(3, 5)]),
    ("index_repeated_rows", lambda L, a: a[[0, 2, 0, 0]], [normal(3, 5)]),
    ("index_pairs", lambda L, a: a[[0, 1, 1], [2, 2, 4]], [normal(3, 5)]),
    ("index_bool_mask", lambda L, a: a[L.tensor(MASK)], [normal(2, 3)]),
    ("index_mixed", lambda L, a: a[1:, [0, 0, 3]], [normal(3, 5)]),
    ("clone", lambda L, a: a.clone(), [normal(3)]),
    (
        "chain",
        lambda L, a, b: ((a @ b).tanh() * a.sum(dim=1, keepdim=True)).mean(),
        [normal(3, 4), normal(4, 2)],
    ),
]
IDS = [c[0] for c in CASES]


def _inputs(makers, seed=0):
    rng = np.random.default_rng(seed)
    return [m(rng) for m in makers]


@pytest.mark.parametrize(("name", "fn", "makers"), CASES, ids=IDS)
def test_op_gradcheck(name, fn, makers):
    xs = [dlx.tensor(a, requires_grad=True) for a in _inputs(makers)]
    assert dlx.gradcheck(lambda *t: fn(dlx, *t), xs)


@pytest.mark.parametrize(("name", "fn", "makers"), CASES, ids=IDS)
def test_op_matches_torch(name, fn, makers):
    torch = pytest.importorskip("torch")
    arrays = _inputs(makers, seed=1)
    xs = [dlx.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = fn(dlx, *xs), fn(torch, *ts)
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    w = np.random.default_rng(2).standard_normal(out.shape)
    (out * dlx.tensor(w)).sum().backward()
    (tout * torch.tensor(w)).sum().backward()
    for x, t in zip(xs, ts, strict=True):
        np.testing.assert_allclose(x.grad, t.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_op_float32_matches_torch_within_1e5(rng):
    torch = pytest.importorskip("torch")
    a = rng.standard_normal((16, 8)).astype(np.float32)
    b = rng.standard_normal((8, 4)).astype(np.float32)
    x, y = dlx.tensor(a, requires_grad=True), dlx.tensor(b, requires_grad=True)
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    out = ((x @ y).sigmoid() * x.mean(dim=1, keepdim=True)).sum()
    tout = ((tx @ ty).sigmoid() * tx.mean(dim=1, keepdim=True)).sum()
    out.backward()
    tout.backward()
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.item(), tout.item(), rtol=1e-5)
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(y.grad, ty.grad.numpy(), rtol=1e-4, atol=1e-6)


# -- forward values against NumPy (no torch needed) --------------------------------------------
def test_forward_values_match_numpy(rng):
    a = rng.standard_normal((3, 4))
    b = np.abs(rng.standard_normal(4)) + 0.5
    x, y = dlx.tensor(a), dlx.tensor(b)
    pairs = [
        (x + y, a + b),
        (x - y, a - b),
        (x * y, a * b),
        (x / y, a / b),
        (y**1.5, b**1.5),
        (x.exp(), np.exp(a)),
        (y.log(), np.log(b)),
        (y.sqrt(), np.sqrt(b)),
        (x.abs(), np.abs(a)),
        (x.clamp(-0.2, 0.3), np.clip(a, -0.2, 0.3)),
        (x.relu(), np.maximum(a, 0)),
        (x.sigmoid(), 1 / (1 + np.exp(-a))),
        (x.tanh(), np.tanh(a)),
        (x @ y, a @ b),
        (x.sum(axis=0), a.sum(0)),
        (x.mean(1, keepdims=True), a.mean(1, keepdims=True)),
        (x.max(), a.max()),
        (x.amin(axis=1), a.min(1)),
        (x.min(axis=1).values, a.min(1)),
        (x.var(1), a.var(1, ddof=1)),
        (x.std(), a.std(ddof=1)),
        (x.T, a.T),
        (x.reshape(2, 6), a.reshape(2, 6)),
        (x[1:, [0, 2]], a[1:, [0, 2]]),
        (dlx.cat([x, x], axis=0), np.concatenate([a, a])),
        (dlx.stack([x, x], axis=2), np.stack([a, a], axis=2)),
        (dlx.where(x > 0, x, 0.0), np.where(a > 0, a, 0.0)),
        (dlx.maximum(x, y), np.maximum(a, b)),
        (x.argmax(axis=1), a.argmax(1)),
        (x.argmin(), a.argmin()),
    ]
    for got, expected in pairs:
        np.testing.assert_allclose(got.data, expected, rtol=1e-12, atol=1e-12)


def test_sigmoid_is_stable_for_large_inputs():
    x = dlx.tensor([-1000.0, -40.0, 0.0, 40.0, 1000.0])
    y = x.sigmoid().data
    assert np.all(np.isfinite(y))
    np.testing.assert_allclose(y[[0, 2, 4]], [0.0, 0.5, 1.0])
    np.testing.assert_allclose(y[1], 1 / (1 + np.exp(40.0)), rtol=1e-5)


# -- max/min ties ----------------------------------------------------------------------------------
def test_max_full_reduction_splits_gradient_among_ties():
    x = dlx.tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_allclose(x.grad, [0, 0.5, 0.5, 0])


def test_max_axis_reduction_splits_gradient_among_ties():
    x = dlx.tensor([[1.0, 1.0, 0.0], [2.0, 5.0, 5.0]], requires_grad=True)
    x.amax(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad, [[0.5, 0.5, 0], [0, 0.5, 0.5]])


def test_max_ties_match_torch_amax():
    torch = pytest.importorskip("torch")
    a = np.array([[1.0, 4.0, 4.0], [4.0, 4.0, 4.0]])
    x, t = dlx.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    x.max().backward()
    t.max().backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy())
    x.grad = None
    t.grad = None
    x.amax(dim=0).sum().backward()
    t.amax(dim=0).sum().backward()
    np.testing.assert_allclose(x.grad, t.grad.numpy())


# -- dtype rules -----------------------------------------------------------------------------------
def test_dtype_python_scalars_do_not_upcast():
    x = dlx.tensor([1.0, 2.0])
    assert (x * 2.5).dtype == np.float32
    assert (x + np.float64(1.0)).dtype == np.float32
    assert (x**2).dtype == np.float32
    assert (2.0**x).dtype == np.float32
    assert (1 / x).dtype == np.float32


def test_dtype_array_promotion():
    f32, f64 = dlx.tensor([1.0]), dlx.tensor(np.array([1.0]))
    i64 = dlx.tensor([1])
    assert (f32 + f64).dtype == np.float64
    assert (f32 * np.ones(1)).dtype == np.float64
    assert (i64 + f32).dtype == np.float32
    assert (i64 * 2.5).dtype == np.float32
    assert (i64 * 2).dtype == np.int64
    assert (i64 / i64).dtype == np.float32
    assert (f32 @ dlx.tensor(np.ones((1, 2)))).dtype == np.float64
    assert dlx.cat([f32, i64]).dtype == np.float32
    assert dlx.tensor([True, False]).sum().dtype == np.int64
    assert dlx.tensor([1, 2]).mean().dtype == np.float32


def test_integer_tensors_index_and_label():
    labels = dlx.tensor([2, 0, 1])
    logits = dlx.tensor(np.arange(9.0).reshape(3, 3), requires_grad=True)
    picked = logits[dlx.arange(3), labels]
    np.testing.assert_allclose(picked.data, [2.0, 3.0, 7.0])
    picked.sum().backward()
    assert logits.grad.sum() == 3


def test_index_repeated_integer_array_accumulates():
    x = dlx.tensor(np.zeros(3), requires_grad=True)
    x[np.array([0, 0, 2, 0])].sum().backward()
    np.testing.assert_allclose(x.grad, [3.0, 0.0, 1.0])


@pytest.mark.parametrize(
    "key",
    [slice(2, 5), slice(None, 4), slice(5, None), slice(-3, -1), slice(4, 2), slice(0, 100),
     slice(-100, 2), slice(1, 6, 2), slice(None, None, -1)],
)  # fmt: skip
def test_index_slice_backward_scatters_into_zeros(key):
    # Leading-axis slices take a path that zeros only the rows outside the slice.
    a = np.arange(21.0).reshape(7, 3)
    g = np.random.default_rng(0).standard_normal(a[key].shape)
    x = dlx.tensor(a, requires_grad=True)
    x[key].backward(g)
    expected = np.zeros_like(a)
    expected[key] = g
    np.testing.assert_array_equal(x.grad, expected)


def test_index_rejects_float_arrays():
    with pytest.raises(IndexError, match="integer or bool"):
        dlx.tensor([1.0, 2.0])[np.array([0.5])]


# -- gemm path --------------------------------------------------------------------------------------
def test_matmul_2d_goes_through_core_gemm(monkeypatch, dtype, rng):
    calls = []
    real = linalg._core.gemm

    class Spy:
        def __getattr__(self, name):
            return getattr(dlx._native._core, name)

        @staticmethod
        def gemm(a, b, **kw):
            calls.append((a.shape, b.shape, kw))
            assert a.flags.c_contiguous
            assert b.flags.c_contiguous
            return real(a, b, **kw)

    monkeypatch.setattr(linalg, "_core", Spy())
    a = rng.standard_normal((5, 3)).astype(dtype)
    b = rng.standard_normal((4, 5)).astype(dtype)
    x, y = dlx.tensor(a, requires_grad=True), dlx.tensor(b, requires_grad=True)
    out = x.T @ y.T  # transposed views: folded into the trans flags, not copied
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out.data, a.T @ b.T, rtol=tol, atol=tol)
    assert calls[0][2] == {"trans_a": True, "trans_b": True}
    out.sum().backward()
    assert len(calls) == 3
    expected = (np.ones((3, 4)) @ b).T  # d sum(A^T B^T) / dA = (1 B)^T
    np.testing.assert_allclose(x.grad, expected, rtol=tol, atol=tol * 10)
    assert x.grad.dtype == dtype


def test_matmul_empty_inner_dimension():
    x = dlx.tensor(np.ones((2, 0)), requires_grad=True)
    y = dlx.tensor(np.ones((0, 3)), requires_grad=True)
    out = x @ y
    np.testing.assert_array_equal(out.data, np.zeros((2, 3)))
    out.sum().backward()
    assert x.grad.shape == (2, 0)
    assert y.grad.shape == (0, 3)


# -- errors ------------------------------------------------------------------------------------------
def test_matmul_shape_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\) are not aligned"):
        dlx.ones(2, 3) @ dlx.ones(4, 5)
    with pytest.raises(ValueError, match="batch dimensions"):
        dlx.ones(2, 3, 4) @ dlx.ones(3, 4, 5)
    with pytest.raises(ValueError, match="at least 1-D"):
        dlx.tensor(1.0) @ dlx.ones(2)


def test_broadcast_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"mul: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        dlx.ones(2, 3) * dlx.ones(4)
    with pytest.raises(ValueError, match=r"add: shapes \(2,\) and \(3,\)"):
        dlx.ones(2) + np.ones(3)
    with pytest.raises(ValueError, match="where"):
        dlx.where(np.ones(3, bool), dlx.ones(2), 0.0)


def test_shape_op_errors():
    x = dlx.ones(2, 3)
    with pytest.raises(ValueError, match=r"\(2, 3\) \(6 elements\) into \(4,\)"):
        x.reshape(4)
    with pytest.raises(ValueError, match="without a copy"):
        x.T.view(6)
    with pytest.raises(ValueError, match="permutation"):
        x.permute(0, 0)
    with pytest.raises(ValueError, match="`axis` must be in"):
        x.sum(axis=2)
    with pytest.raises(ValueError, match="cannot be expanded"):
        x.expand(4, 3)
    with pytest.raises(ValueError, match="tensor 1 has shape"):
        dlx.cat([x, dlx.ones(3, 3)], dim=1)
    with pytest.raises(ValueError, match="tensor 1 has shape"):
        dlx.stack([x, dlx.ones(3, 2)])
    with pytest.raises(TypeError, match="sequence of tensors"):
        dlx.cat(x)
    with pytest.raises(TypeError, match="`axis` or `dim`"):
        x.sum(axis=0, dim=0)
    with pytest.raises(ValueError, match="empty axis"):
        dlx.ones(0, 3).amax(axis=0)


def test_type_errors():
    assert dlx.tensor([1, 2]).exp().dtype == np.float32  # integers promote, as in PyTorch
    with pytest.raises(TypeError, match="`condition` must be a bool"):
        dlx.where(np.ones(2), 1.0, 0.0)


def test_domain_edges_are_silent_like_pytorch():
    x = dlx.tensor([0.0, -1.0], requires_grad=True)
    y = x.log()
    assert np.isneginf(y.data[0])
    assert np.isnan(y.data[1])
    y.sum().backward()
    assert np.isinf(x.grad[0])
    assert np.isinf((dlx.tensor([1.0]) / 0.0).data[0])


def test_empty_reductions():
    assert np.isnan(dlx.zeros(0).mean().item())
    assert dlx.zeros(0, 3).sum(axis=0).shape == (3,)
