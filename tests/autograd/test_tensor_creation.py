"""Creation (*_like, new_*, eye, arange, linspace, logspace, as_tensor) and random sampling
(randint, rand_like/randn_like, randperm, multinomial, bernoulli, normal, in-place fills):
values, dtypes, distributions, seeding, errors."""

from __future__ import annotations

import numpy as np
import pytest

import dlx


@pytest.mark.torch
def test_creation_matches_torch():
    torch = pytest.importorskip("torch")
    x = dlx.tensor(np.arange(6.0).reshape(2, 3))
    tx = torch.tensor(x.numpy())
    pairs = [
        (dlx.zeros_like(x), torch.zeros_like(tx)),
        (dlx.ones_like(x, dtype=dlx.long), torch.ones_like(tx, dtype=torch.long)),
        (dlx.full_like(x, 7), torch.full_like(tx, 7)),
        (x.new_zeros(2, 2), tx.new_zeros(2, 2)),
        (x.new_ones((3,)), tx.new_ones((3,))),
        (x.new_full((2,), 1.5), tx.new_full((2,), 1.5)),
        (x.new_tensor([1, 2]), tx.new_tensor([1, 2])),
        (dlx.eye(3), torch.eye(3)),
        (dlx.eye(2, 4, dtype=dlx.float64), torch.eye(2, 4, dtype=torch.float64)),
        (dlx.arange(5), torch.arange(5)),
        (dlx.arange(1, 2, 0.25), torch.arange(1, 2, 0.25)),
        (dlx.arange(0, 10, 3, dtype=dlx.float64), torch.arange(0, 10, 3, dtype=torch.float64)),
        (dlx.linspace(-1, 1, 5), torch.linspace(-1, 1, 5)),
        (dlx.logspace(0, 2, 3), torch.logspace(0, 2, 3)),
        (dlx.tensor([[1, 2]], dtype=dlx.long), torch.tensor([[1, 2]], dtype=torch.long)),
        (dlx.full((2, 2), True), torch.full((2, 2), True)),
    ]
    for d, t in pairs:
        assert d.dtype == t.numpy().dtype, (d.dtype, t.dtype)
        np.testing.assert_allclose(d.numpy(), t.numpy(), rtol=1e-6)
    assert dlx.empty_like(x).shape == (2, 3)
    assert x.new_empty(4).shape == (4,)


def test_creation_options_and_errors():
    z = dlx.zeros(2, 3, requires_grad=True, device="cpu")
    assert z.requires_grad
    assert z.is_leaf
    assert dlx.ones_like(z, requires_grad=True).requires_grad
    assert dlx.eye(2, requires_grad=True).requires_grad
    with pytest.raises(ValueError, match="`n` must be a non-negative int"):
        dlx.eye(-1)
    with pytest.raises(ValueError, match="`steps`"):
        dlx.linspace(0, 1, -2)
    with pytest.raises(TypeError, match="`start` must be a number"):
        dlx.linspace("a", 1, 2)
    with pytest.raises(ValueError, match="non-zero"):
        dlx.arange(0, 1, 0)
    with pytest.raises(RuntimeError, match="only floating-point"):
        dlx.zeros(2, dtype=dlx.long, requires_grad=True)


def test_as_tensor_and_from_numpy_share_memory():
    a = np.arange(4.0)
    t = dlx.as_tensor(a)
    assert np.shares_memory(t.numpy(), a)
    assert t.dtype == np.float64
    assert dlx.as_tensor(t) is t
    assert dlx.as_tensor(a, dtype=dlx.float32).dtype == np.float32
    assert not np.shares_memory(dlx.as_tensor(a, dtype=dlx.float32).numpy(), a)
    assert dlx.as_tensor([1, 2]).dtype == np.int64
    f = dlx.from_numpy(a)
    a[0] = 9
    assert f[0].item() == 9
    with pytest.raises(RuntimeError, match="CPU only"):
        dlx.as_tensor(a, device="cuda")


# -- random -----------------------------------------------------------------------------------
def test_seeded_sampling_is_reproducible():
    def draw():
        dlx.manual_seed(123)
        return [
            dlx.randint(0, 10, (5,)).numpy(),
            dlx.randn_like(dlx.zeros(3)).numpy(),
            dlx.rand_like(dlx.zeros(3, dtype=dlx.float64)).numpy(),
            dlx.randperm(6).numpy(),
            dlx.multinomial(dlx.tensor([0.2, 0.3, 0.5]), 2).numpy(),
            dlx.bernoulli(dlx.full((4,), 0.5)).numpy(),
            dlx.normal(0.0, 1.0, (3,)).numpy(),
        ]

    for a, b in zip(draw(), draw(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_random_values_and_dtypes():
    r = dlx.randint(3, 7, (1000,))
    assert r.dtype == np.int64
    assert r.numpy().min() >= 3
    assert r.numpy().max() <= 6
    assert dlx.randint(5, size=(2, 2)).shape == (2, 2)
    assert dlx.randint(5, (3,), dtype=dlx.int32).dtype == np.int32
    assert sorted(dlx.randperm(10).numpy().tolist()) == list(range(10))
    assert dlx.randn_like(dlx.zeros(2, dtype=dlx.float64)).dtype == np.float64
    assert dlx.rand_like(dlx.zeros(2, dtype=dlx.long)).dtype == np.float32
    assert dlx.randint_like(dlx.zeros(3), 4).numpy().max() < 4
    b = dlx.bernoulli(dlx.tensor([0.0, 1.0, 0.0, 1.0]))
    np.testing.assert_array_equal(b.numpy(), [0, 1, 0, 1])
    n = dlx.normal(dlx.tensor([0.0, 100.0]), dlx.tensor([1e-6, 1e-6]))
    np.testing.assert_allclose(n.numpy(), [0.0, 100.0], atol=1e-4)
    assert dlx.normal(2.0, dlx.ones(3)).shape == (3,)


def test_multinomial_distribution():
    dlx.manual_seed(0)
    w = dlx.tensor([[1.0, 0.0, 3.0], [0.0, 1.0, 1.0]])
    s = dlx.multinomial(w, 4000, replacement=True).numpy()
    assert s.shape == (2, 4000)
    assert not (s[0] == 1).any()
    assert not (s[1] == 0).any()
    np.testing.assert_allclose((s[0] == 2).mean(), 0.75, atol=0.03)
    np.testing.assert_allclose((s[1] == 2).mean(), 0.5, atol=0.03)
    no = dlx.multinomial(dlx.tensor([1.0, 2.0, 3.0, 0.0]), 3).numpy()
    assert sorted(no.tolist()) == [0, 1, 2]
    first = np.array([dlx.multinomial(dlx.tensor([1.0, 3.0]), 1).item() for _ in range(2000)])
    np.testing.assert_allclose((first == 1).mean(), 0.75, atol=0.04)
    with pytest.raises(ValueError, match="non-zero weights"):
        dlx.multinomial(dlx.tensor([1.0, 0.0]), 2)
    with pytest.raises(ValueError, match="non-negative"):
        dlx.multinomial(dlx.tensor([1.0, -1.0]), 1)


def test_inplace_random_fills():
    dlx.manual_seed(1)
    x = dlx.empty(1000)
    x.uniform_(-2, 2)
    assert x.numpy().min() >= -2
    assert x.numpy().max() < 2
    x.normal_(5.0, 0.1)
    np.testing.assert_allclose(x.numpy().mean(), 5.0, atol=0.02)
    x.bernoulli_(0.25)
    assert set(np.unique(x.numpy()).tolist()) <= {0.0, 1.0}
    x.random_(0, 3)
    assert set(np.unique(x.numpy()).tolist()) <= {0.0, 1.0, 2.0}
    w = dlx.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        w.normal_()
    with dlx.no_grad():
        w.normal_()


def test_random_errors():
    with pytest.raises(ValueError, match="greater than `low`"):
        dlx.randint(5, 5, (2,))
    with pytest.raises(TypeError, match="randint"):
        dlx.randint(5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        dlx.bernoulli(dlx.tensor([1.5]))
    with pytest.raises(TypeError, match="give `size`"):
        dlx.normal(0.0, 1.0)
    with pytest.raises(ValueError, match="non-negative"):
        dlx.normal(dlx.zeros(2), -1.0)
    with pytest.raises(TypeError, match="floating dtype"):
        dlx.randn_like(dlx.zeros(2), dtype=dlx.long)
