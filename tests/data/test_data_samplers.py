"""Samplers and bootstrap: orders, PyTorch's interface and the statistics of their draws.

The statistical checks are chi-square goodness-of-fit tests at the 0.1% level with fixed
seeds: deterministic (never flaky), and a wrong distribution fails them by far.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from dlx.data import (
    BatchSampler,
    DataLoader,
    DistributedSampler,
    RandomSampler,
    SequentialSampler,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    bootstrap,
)


def _chi2_limit(df: int, z: float = 3.0902) -> float:
    """Upper 0.1% point of chi-square with ``df`` degrees of freedom (Wilson-Hilferty)."""
    c = 2.0 / (9.0 * df)
    return df * (1.0 - c + z * math.sqrt(c)) ** 3


def _assert_fits(observed: np.ndarray, expected: np.ndarray, df: int | None = None) -> None:
    observed, expected = np.asarray(observed, float).ravel(), np.asarray(expected, float).ravel()
    assert observed.sum() == pytest.approx(expected.sum())
    stat = float(((observed - expected) ** 2 / expected).sum())
    df = observed.size - 1 if df is None else df
    assert stat < _chi2_limit(df), f"chi-square {stat:.1f} >= {_chi2_limit(df):.1f} (df {df})"


def test_chi2_limit_matches_known_quantiles() -> None:
    # Tabulated upper 0.1% points: df 1 -> 10.83 (the approximation is worst there), 9 ->
    # 27.88, 99 -> 148.2.
    assert _chi2_limit(1) == pytest.approx(10.83, rel=0.05)
    assert _chi2_limit(9) == pytest.approx(27.88, rel=0.01)
    assert _chi2_limit(99) == pytest.approx(148.2, rel=0.005)


def test_chi2_check_rejects_a_wrong_distribution() -> None:
    counts = np.random.default_rng(0).multinomial(10_000, [0.3, 0.2, 0.2, 0.2, 0.1])
    with pytest.raises(AssertionError, match="chi-square"):
        _assert_fits(counts, np.full(5, 2000.0))


# ------------------------------------------------------------------ orders


def test_sequential_sampler_visits_in_order() -> None:
    s = SequentialSampler(range(5))
    assert list(s) == list(s) == [0, 1, 2, 3, 4]
    assert len(s) == 5


def test_random_sampler_is_the_loader_shuffle_and_replays_epochs() -> None:
    ds = TensorDataset(np.arange(30))
    sampler = RandomSampler(ds, generator=4)
    loader = DataLoader(ds, batch_size=30, shuffle=True, generator=4)
    epochs = [list(sampler) for _ in range(3)]
    for e, order in enumerate(epochs):
        np.testing.assert_array_equal(order, np.random.default_rng([4, e]).permutation(30))
        np.testing.assert_array_equal(next(iter(loader))[0], order)
    assert epochs[0] != epochs[1]
    sampler.set_epoch(1)
    assert list(sampler) == epochs[1]
    a = RandomSampler(ds, generator=np.random.default_rng(3))
    b = RandomSampler(ds, generator=np.random.default_rng(3))
    assert a.seed == b.seed
    assert list(a) == list(b)


def test_random_sampler_positions_are_uniform() -> None:
    n, epochs = 8, 4000
    sampler = RandomSampler(range(n), generator=1)
    where = np.zeros((n, n))
    for _ in range(epochs):
        where[np.arange(n), np.argsort(sampler.indices())] += 1  # where[i, pos]
        sampler.set_epoch(sampler.epoch + 1)
    _assert_fits(where, np.full((n, n), epochs / n), df=(n - 1) ** 2)


def test_random_sampler_with_replacement_draws_uniformly() -> None:
    sampler = RandomSampler(range(20), replacement=True, num_samples=40_000, generator=2)
    draws = np.asarray(list(sampler))
    assert len(sampler) == draws.size == 40_000
    _assert_fits(np.bincount(draws, minlength=20), np.full(20, 2000.0))
    boot = RandomSampler(range(1000), replacement=True, generator=5)
    unique = len(set(boot))  # one bootstrap resample: ~63.2% of the samples appear
    assert abs(unique / 1000 - (1 - math.exp(-1))) < 4 * math.sqrt(0.632 * 0.368 / 1000)


def test_random_sampler_more_samples_than_data_chains_permutations() -> None:
    order = list(RandomSampler(range(7), num_samples=23, generator=0))
    assert len(order) == 23
    for block in range(3):
        assert sorted(order[7 * block : 7 * block + 7]) == list(range(7))
    assert len(set(order[21:])) == 2
    assert list(RandomSampler(range(7), num_samples=3, generator=0)) == order[:3]
    assert list(RandomSampler([], generator=0)) == []


def test_weighted_sampler_with_replacement_follows_the_weights() -> None:
    weights = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    sampler = WeightedRandomSampler(weights, 50_000, generator=6)
    counts = np.bincount(list(sampler), minlength=5)
    assert counts[0] == 0
    _assert_fits(counts[1:], 50_000 * weights[1:] / weights.sum())


def test_weighted_sampler_without_replacement_draws_successively() -> None:
    weights = np.array([1.0, 0.0, 2.0, 3.0, 4.0, 6.0])
    sampler = WeightedRandomSampler(weights, 3, replacement=False, generator=7)
    firsts = np.zeros(6)
    for _ in range(3000):
        draw = list(sampler)
        assert len(set(draw)) == 3
        assert 1 not in draw
        firsts[draw[0]] += 1
    assert firsts[1] == 0
    positive = weights > 0
    _assert_fits(firsts[positive], 3000 * weights[positive] / weights.sum())


def test_subset_random_sampler_permutes_its_indices() -> None:
    subset = [3, 9, 11, 20, 21, 40]
    sampler = SubsetRandomSampler(subset, generator=8)
    firsts = {i: 0 for i in subset}
    for _ in range(3000):
        order = list(sampler)
        assert sorted(order) == subset
        firsts[order[0]] += 1
    assert len(sampler) == 6
    _assert_fits(np.array(list(firsts.values())), np.full(6, 500.0))


def test_batch_sampler_groups_and_drops_last() -> None:
    assert list(BatchSampler(range(7), 3, drop_last=False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(range(7), 3, drop_last=True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(range(7), 3, False)) == 3
    assert len(BatchSampler(range(7), 3, True)) == 2
    inner = RandomSampler(range(10), generator=0)
    bs = BatchSampler(inner, 4, False)
    first = list(bs)
    bs.set_epoch(0)  # forwarded to the wrapped sampler
    assert list(bs) == first
    assert sorted(i for b in first for i in b) == list(range(10))


@pytest.mark.torch
def test_samplers_match_torch_semantics() -> None:
    torch = pytest.importorskip("torch")
    data = torch.utils.data
    for n, b, drop in [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False)]:
        ours = list(BatchSampler(range(n), b, drop))
        assert ours == list(data.BatchSampler(range(n), b, drop))
        assert len(BatchSampler(range(n), b, drop)) == len(data.BatchSampler(range(n), b, drop))
    for n, world, drop in [
        (10, 3, False),
        (10, 3, True),
        (11, 4, False),
        (2, 4, False),
        (12, 4, True),
    ]:
        for rank in range(world):
            ours = DistributedSampler(n, world, rank, shuffle=False, drop_last=drop)
            theirs = data.DistributedSampler(range(n), world, rank, shuffle=False, drop_last=drop)
            assert list(ours) == list(theirs)
            assert (ours.num_samples, ours.total_size) == (theirs.num_samples, theirs.total_size)
    assert len(RandomSampler(range(7), num_samples=23)) == len(
        data.RandomSampler(range(7), num_samples=23)
    )


def test_distributed_sampler_interface_and_loader_use() -> None:
    ds = TensorDataset(np.arange(20.0), np.arange(20))
    shards = [DistributedSampler(ds, num_replicas=3, rank=r, seed=2) for r in range(3)]
    assert all(len(s) == s.num_samples == 7 for s in shards)
    assert shards[0].total_size == 21
    first = [list(s) for s in shards]
    merged = np.stack(first, axis=1).reshape(-1)  # strided shards interleave to the order
    order = np.random.default_rng([2, 0]).permutation(20)
    np.testing.assert_array_equal(merged[:20], order)
    assert merged[20] == order[0]  # padded by wrapping around
    for s in shards:
        s.set_epoch(5)
    np.testing.assert_array_equal(
        list(shards[1]), np.resize(np.random.default_rng([2, 5]).permutation(20), 21)[1::3]
    )
    sampler = DistributedSampler(ds, num_replicas=3, rank=1, seed=2)
    loader = DataLoader(ds, batch_size=4, sampler=sampler)
    assert len(loader) == 2
    got = np.concatenate([yb for _, yb in loader])
    np.testing.assert_array_equal(got, first[1])
    loader.set_epoch(5)  # forwarded to the sampler
    assert sampler.epoch == 5
    with pytest.raises(TypeError, match="`dataset` must be a sized dataset"):
        DistributedSampler(object(), 2, 0)
    with pytest.raises(ValueError, match="`rank`"):
        DistributedSampler(ds, 2, 2)


# ------------------------------------------------------------------ bootstrap


def test_bootstrap_bags_and_out_of_bag_parts() -> None:
    ds = TensorDataset(np.arange(200.0), np.arange(200))
    bags = bootstrap(ds, n_bags=300, seed=3)
    assert len(bags) == 300
    counts = np.zeros(200)
    unique = []
    for in_bag, oob in bags:
        assert len(in_bag) == 200
        picked = in_bag.indices
        assert np.array_equal(np.sort(oob.indices), np.setdiff1d(np.arange(200), picked))
        counts += np.bincount(picked, minlength=200)
        unique.append(len(np.unique(picked)))
    _assert_fits(counts, np.full(200, 300.0))
    assert abs(np.mean(unique) / 200 - (1 - math.exp(-1))) < 0.01
    again = bootstrap(ds, n_bags=2, seed=3)  # fewer bags: the same first ones
    for (a, _), (b, _) in zip(again, bags, strict=False):
        np.testing.assert_array_equal(a.indices, b.indices)
    assert not np.array_equal(bags[0][0].indices, bags[1][0].indices)
    half = bootstrap(ds, 1, num_samples=0.5, seed=0)[0][0]
    assert len(half) == 100
    assert len(bootstrap(ds, 1, num_samples=500)[0][0]) == 500
    _, yb = next(iter(DataLoader(bags[0][0], batch_size=200)))
    np.testing.assert_array_equal(yb, bags[0][0].indices)


def test_bootstrap_rejects_bad_arguments() -> None:
    ds = TensorDataset(np.arange(5.0))
    with pytest.raises(ValueError, match="`n_bags` must be a positive int"):
        bootstrap(ds, 0)
    with pytest.raises(ValueError, match="`num_samples`"):
        bootstrap(ds, 1, num_samples=1.5)
    with pytest.raises(ValueError, match="`num_samples`"):
        bootstrap(ds, 1, num_samples=0)
    with pytest.raises(ValueError, match="empty dataset"):
        bootstrap(TensorDataset(np.zeros((0, 2))), 1)


# ------------------------------------------------------------------ argument errors


def test_sampler_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="`weights` must be a non-empty 1-D"):
        WeightedRandomSampler([[1.0, 2.0]], 3)
    with pytest.raises(ValueError, match="`weights` must be a non-empty 1-D"):
        WeightedRandomSampler([1.0, -1.0], 3)
    with pytest.raises(ValueError, match="at least one positive weight"):
        WeightedRandomSampler([0.0, 0.0], 3)
    with pytest.raises(ValueError, match="at most the number of positive weights"):
        WeightedRandomSampler([1.0, 0.0, 1.0], 3, replacement=False)
    with pytest.raises(TypeError, match="`num_samples` must be an int"):
        WeightedRandomSampler([1.0], 2.5)
    with pytest.raises(ValueError, match="`num_samples` must be >= 0"):
        RandomSampler(range(3), num_samples=-1)
    with pytest.raises(TypeError, match="`replacement` must be a bool"):
        RandomSampler(range(3), replacement="yes")
    with pytest.raises(ValueError, match="cannot draw 2 samples from an empty"):
        list(RandomSampler([], num_samples=2))
    with pytest.raises(ValueError, match="`indices` must be a 1-D sequence of ints"):
        SubsetRandomSampler([0.5, 1.5])
    with pytest.raises(ValueError, match="`batch_size` must be positive"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="`epoch` must be a non-negative"):
        RandomSampler(range(3)).set_epoch(-1)
