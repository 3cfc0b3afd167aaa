"""Dataset, TensorDataset, Subset, splits and DataLoader."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dlx.data import (
    DataLoader,
    Dataset,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
    train_val_split,
)
from dlx.data.transforms import Compose, GaussianNoise, OneHot, RandomHorizontalFlip


def _xy(n: int = 10) -> tuple[np.ndarray, np.ndarray]:
    x = np.arange(n * 6, dtype=np.float32).reshape(n, 1, 2, 3)
    return x, np.arange(n, dtype=np.int64)


class _Squares(Dataset):
    """A dataset without get_batch override: samples (i, i*i) built per index."""

    def __getitem__(self, index: int):
        return np.array([index], np.float64), np.int64(index * index)

    def __len__(self) -> int:
        return 7


# --------------------------------------------------------------------------- datasets


def test_tensordataset_getitem_returns_tuple_of_rows() -> None:
    x, y = _xy()
    ds = TensorDataset(x, y)
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi, x[3])
    assert yi == 3
    assert ds[-1][1] == 9
    (only,) = TensorDataset(x)[2]
    np.testing.assert_array_equal(only, x[2])


@pytest.mark.parametrize("workers", [0, 1])
def test_tensordataset_of_tensors_yields_tensors(workers) -> None:
    # PyTorch's TensorDataset(x, y) gives Tensors per sample and per batch (labels.size(0),
    # (pred == y).sum().item() ...); made from arrays it keeps giving arrays.
    import dlx

    x, y = _xy()
    ds = TensorDataset(dlx.from_numpy(x), dlx.from_numpy(y))
    xi, yi = ds[3]
    assert isinstance(xi, dlx.Tensor)
    assert isinstance(yi, dlx.Tensor)
    assert yi.item() == 3
    batches = list(DataLoader(Subset(ds, [9, 0, 4]), batch_size=2, num_workers=workers))
    assert all(isinstance(t, dlx.Tensor) for b in batches for t in b)
    assert [b[1].size(0) for b in batches] == [2, 1]
    np.testing.assert_array_equal(batches[0][0].numpy(), x[[9, 0]])
    assert batches[0][1].dtype == dlx.int64
    plain = next(iter(DataLoader(TensorDataset(x, y), batch_size=2)))
    assert all(isinstance(a, np.ndarray) for a in plain)


def test_tensordataset_get_batch_is_a_copy() -> None:
    x, y = _xy()
    ds = TensorDataset(x, y)
    xb, yb = ds.get_batch(np.array([4, 1]))
    np.testing.assert_array_equal(yb, [4, 1])
    xb[:] = -1
    assert x.min() >= 0


def test_tensordataset_mismatched_first_dims_raise() -> None:
    with pytest.raises(ValueError, match=r"same first dimension, got shapes \[\(3, 2\), \(4,\)\]"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="first \\(sample\\) dimension"):
        TensorDataset(np.zeros(3), np.float64(1.0))
    with pytest.raises(ValueError, match="at least one array"):
        TensorDataset()


def test_tensordataset_bad_index_raises() -> None:
    ds = TensorDataset(*_xy(5))
    with pytest.raises(IndexError, match="index 5 is out of range for 5 samples"):
        ds[5]
    with pytest.raises(TypeError, match="index must be an int, got float"):
        ds[1.0]  # type: ignore[index]


def test_dataset_is_abstract() -> None:
    with pytest.raises(TypeError):
        Dataset()  # type: ignore[abstract]


def test_default_collate_mirrors_structure() -> None:
    samples = [(np.ones(2) * i, i) for i in range(3)]
    xb, yb = default_collate(samples)
    assert xb.shape == (3, 2)
    np.testing.assert_array_equal(yb, [0, 1, 2])
    d = default_collate([{"a": np.zeros(2), "b": 1}, {"a": np.ones(2), "b": 2}])
    assert d["a"].shape == (2, 2)
    np.testing.assert_array_equal(d["b"], [1, 2])
    assert default_collate([np.zeros(3), np.ones(3)]).shape == (2, 3)
    with pytest.raises(ValueError, match="different numbers of fields"):
        default_collate([(1, 2), (1,)])


def test_subset_indexes_through() -> None:
    x, y = _xy()
    sub = Subset(TensorDataset(x, y), [7, 2, -1])
    assert len(sub) == 3
    assert sub[1][1] == 2
    np.testing.assert_array_equal(sub.get_batch(np.array([0, 2]))[1], [7, 9])
    with pytest.raises(IndexError, match="must lie in"):
        Subset(TensorDataset(x, y), [10])


@pytest.mark.parametrize("lengths", [[6, 3, 1], [0.6, 0.3, 0.1], [0.5, 0.5]])
def test_random_split_partitions_the_dataset(lengths) -> None:
    ds = TensorDataset(*_xy())
    parts = random_split(ds, lengths, seed=3)
    assert len(parts) == len(lengths)
    seen = np.concatenate([p.indices for p in parts])
    np.testing.assert_array_equal(np.sort(seen), np.arange(10))
    expected = [round(10 * f) for f in lengths] if isinstance(lengths[0], float) else lengths
    assert [len(p) for p in parts] == expected
    again = random_split(ds, lengths, seed=3)
    for p, q in zip(parts, again, strict=True):
        np.testing.assert_array_equal(p.indices, q.indices)


def test_random_split_fraction_remainder_goes_to_first_subsets() -> None:
    parts = random_split(TensorDataset(np.zeros(10)), [1 / 3, 1 / 3, 1 / 3])
    assert [len(p) for p in parts] == [4, 3, 3]


def test_random_split_bad_lengths_raise() -> None:
    ds = TensorDataset(np.zeros(10))
    with pytest.raises(ValueError, match="sum to the dataset size 10"):
        random_split(ds, [5, 4])
    with pytest.raises(ValueError, match="sum to 1"):
        random_split(ds, [0.5, 0.4])
    with pytest.raises(TypeError, match="`seed` must be None, a non-negative int"):
        random_split(ds, [5, 5], seed="x")  # type: ignore[arg-type]


def test_train_val_split_matches_random_split() -> None:
    x, y = _xy(1797)
    (_xt, yt), (xv, yv) = train_val_split(x, y, val_fraction=0.2, seed=5)
    assert (len(yt), len(yv)) == (1438, 359)
    train, val = random_split(TensorDataset(x, y), [0.8, 0.2], seed=5)
    np.testing.assert_array_equal(yt, train.indices)
    np.testing.assert_array_equal(yv, val.indices)
    np.testing.assert_array_equal(xv, x[yv])
    a, b = train_val_split(x, val_fraction=0.5, seed=0)
    assert (a.shape, b.shape) == ((899, 1, 2, 3), (898, 1, 2, 3))


def test_train_val_split_errors_name_the_argument() -> None:
    x, y = _xy(10)
    with pytest.raises(ValueError, match=r"`val_fraction` must be in \(0, 1\), got 1.0"):
        train_val_split(x, y, val_fraction=1.0)
    with pytest.raises(ValueError, match="both must be non-empty"):
        train_val_split(x[:2], y[:2], val_fraction=0.1)
    with pytest.raises(ValueError, match="same first dimension"):
        train_val_split(x, y[:5])


# --------------------------------------------------------------------------- loader


@pytest.mark.parametrize(("n", "bs", "drop_last", "expected"), [
    (10, 3, False, 4), (10, 3, True, 3), (9, 3, True, 3), (2, 5, False, 1), (2, 5, True, 0),
    (0, 4, False, 0), (10, None, False, 1), (1, 1, False, 1),
])  # fmt: skip
def test_dataloader_len_counts_batches(n, bs, drop_last, expected) -> None:
    loader = DataLoader(TensorDataset(np.zeros((n, 2))), batch_size=bs, drop_last=drop_last)
    assert len(loader) == expected
    batches = list(loader)
    assert len(batches) == expected
    sizes = [b[0].shape[0] for b in batches]
    if expected:
        assert sum(sizes) == (n if not drop_last else expected * bs)


def test_dataloader_in_order_without_shuffle() -> None:
    x, y = _xy()
    batches = list(DataLoader(TensorDataset(x, y), batch_size=4))
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    np.testing.assert_array_equal(batches[-1][0], x[8:])
    assert batches[0][0].dtype == np.float32


def test_dataloader_shuffle_reproducible_and_new_each_epoch() -> None:
    ds = TensorDataset(np.arange(50))
    a = DataLoader(ds, batch_size=7, shuffle=True, generator=11)
    b = DataLoader(ds, batch_size=7, shuffle=True, generator=11)
    epochs_a = [np.concatenate([xb for (xb,) in a]) for _ in range(3)]
    epochs_b = [np.concatenate([xb for (xb,) in b]) for _ in range(3)]
    for ea, eb in zip(epochs_a, epochs_b, strict=True):
        np.testing.assert_array_equal(ea, eb)
        np.testing.assert_array_equal(np.sort(ea), np.arange(50))
    assert not np.array_equal(epochs_a[0], epochs_a[1])
    assert not np.array_equal(epochs_a[0], np.arange(50))


def test_dataloader_set_epoch_replays_an_epoch() -> None:
    loader = DataLoader(TensorDataset(np.arange(20)), batch_size=20, shuffle=True, generator=0)
    first = next(iter(loader))[0]
    second = next(iter(loader))[0]  # an abandoned epoch still advances
    loader.set_epoch(1)
    np.testing.assert_array_equal(next(iter(loader))[0], second)
    loader.set_epoch(0)
    np.testing.assert_array_equal(next(iter(loader))[0], first)
    with pytest.raises(ValueError, match="`epoch` must be a non-negative"):
        loader.set_epoch(-1)


def test_dataloader_generator_object_is_consumed_once() -> None:
    ds = TensorDataset(np.arange(30))
    a = DataLoader(ds, batch_size=30, shuffle=True, generator=np.random.default_rng(4))
    b = DataLoader(ds, batch_size=30, shuffle=True, generator=np.random.default_rng(4))
    assert a.seed == b.seed
    np.testing.assert_array_equal(next(iter(a))[0], next(iter(b))[0])
    c = DataLoader(ds, batch_size=30, shuffle=True)  # OS entropy: still a permutation
    np.testing.assert_array_equal(np.sort(next(iter(c))[0]), np.arange(30))


def test_dataloader_tensordataset_uses_get_batch_not_getitem() -> None:
    class NoGetItem(TensorDataset):
        def __getitem__(self, index):
            msg = "per-sample path used"
            raise AssertionError(msg)

    batches = list(DataLoader(NoGetItem(*_xy()), batch_size=4, shuffle=True, generator=0))
    assert sum(len(b[1]) for b in batches) == 10
    sub = random_split(NoGetItem(*_xy()), [5, 5])[0]
    assert sum(len(b[1]) for b in DataLoader(sub, batch_size=2)) == 5


def test_dataloader_generic_dataset_per_sample() -> None:
    batches = list(DataLoader(_Squares(), batch_size=3))
    assert [b[0].shape for b in batches] == [(3, 1), (3, 1), (1, 1)]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), np.arange(7) ** 2)


def test_dataloader_custom_collate() -> None:
    def collate(samples):
        return [s[1] for s in samples]

    batches = list(DataLoader(TensorDataset(*_xy(5)), batch_size=2, collate=collate))
    assert batches == [[0, 1], [2, 3], [4]]


def test_dataloader_transforms_apply_to_inputs_and_targets() -> None:
    x, y = _xy(6)
    loader = DataLoader(
        TensorDataset(x, y, y), batch_size=4, transform=lambda a: a * 2, target_transform=OneHot(6)
    )
    xb, yb, raw = next(iter(loader))
    np.testing.assert_array_equal(xb, x[:4] * 2)
    np.testing.assert_array_equal(yb, np.eye(6, dtype=np.float32)[:4])
    np.testing.assert_array_equal(raw, y[:4])
    single = DataLoader(np.arange(5.0), batch_size=5, transform=lambda a: -a)
    np.testing.assert_array_equal(next(iter(single)), -np.arange(5.0))
    with pytest.raises(ValueError, match="`target_transform` needs batches with a second"):
        next(iter(DataLoader(TensorDataset(x), batch_size=2, target_transform=OneHot(6))))


def test_dataloader_bad_arguments_raise() -> None:
    ds = TensorDataset(np.zeros(4))
    with pytest.raises(ValueError, match="`batch_size` must be a positive int or None, got 0"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(TypeError, match=r"`batch_size` must be a positive int or None, got 1.5"):
        DataLoader(ds, batch_size=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`batch_size`"):
        DataLoader(ds, batch_size=True)
    with pytest.raises(TypeError, match="`generator` must be None"):
        DataLoader(ds, shuffle=True, generator="seed")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`generator` must be a non-negative seed, got -3"):
        DataLoader(ds, generator=-3)
    with pytest.raises(TypeError, match="`transform` must be callable"):
        DataLoader(ds, transform=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`dataset` must support len"):
        DataLoader(5)


def test_dataloader_state_dict_resumes_shuffle_and_transforms() -> None:
    x, y = _xy(12)

    def make():
        aug = Compose([RandomHorizontalFlip(generator=1), GaussianNoise(0.1, generator=2)])
        return DataLoader(
            TensorDataset(x, y), batch_size=5, shuffle=True, generator=9, transform=aug
        )

    run = make()
    list(run)
    state = json.loads(json.dumps(run.state_dict()))  # must survive JSON
    expected = [b for _ in range(2) for b in run]
    resumed = make()
    resumed.load_state_dict(state)
    got = [b for _ in range(2) for b in resumed]
    for (ex, ey), (gx, gy) in zip(expected, got, strict=True):
        np.testing.assert_array_equal(ex, gx)
        np.testing.assert_array_equal(ey, gy)
