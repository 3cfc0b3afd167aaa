"""DataLoader's PyTorch arguments in the main process: samplers, collate_fn, argument rules."""

from __future__ import annotations

import copy
import multiprocessing as mp

import numpy as np
import pytest

from dlx.data import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    SequentialSampler,
    TensorDataset,
    WeightedRandomSampler,
    get_worker_info,
)


def _ds(n: int = 10) -> TensorDataset:
    return TensorDataset(np.arange(n, dtype=np.float32).reshape(n, 1), np.arange(n))


def _ids(loader) -> list[list[int]]:
    return [yb.tolist() for _, yb in loader]


def test_sampler_batches_its_indices() -> None:
    sampler = WeightedRandomSampler(np.ones(10), 11, generator=2)
    loader = DataLoader(_ds(), batch_size=4, sampler=sampler)
    assert len(loader) == 3
    batches = _ids(loader)
    assert [len(b) for b in batches] == [4, 4, 3]
    assert [i for b in batches for i in b] == list(
        WeightedRandomSampler(np.ones(10), 11, generator=2)
    )
    dropped = DataLoader(_ds(), batch_size=4, drop_last=True, sampler=SequentialSampler(_ds()))
    assert _ids(dropped) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    full = DataLoader(_ds(), batch_size=None, sampler=RandomSampler(_ds(), generator=0))
    assert sorted(_ids(full)[0]) == list(range(10))
    plain = DataLoader(_ds(), batch_size=3, sampler=[9, 0, 4, 4])  # any iterable of ints
    assert _ids(plain) == [[9, 0, 4], [4]]


def test_batch_sampler_gives_the_batches() -> None:
    bs = BatchSampler(RandomSampler(range(10), generator=1), 3, drop_last=True)
    loader = DataLoader(_ds(), batch_sampler=bs)
    assert len(loader) == 3
    first = _ids(loader)
    assert [len(b) for b in first] == [3, 3, 3]
    assert _ids(loader) != first  # the sampler moved to its next epoch
    loader.set_epoch(0)  # forwarded through the batch sampler
    assert _ids(loader) == first
    custom = DataLoader(_ds(), batch_sampler=[[1, 2], [7], [0, 9, 8]])
    assert _ids(custom) == [[1, 2], [7], [0, 9, 8]]


def test_collate_fn_is_the_collate_argument() -> None:
    def names(samples):
        return [int(s[1]) for s in samples]

    loader = DataLoader(_ds(5), batch_size=2, collate_fn=names)
    assert list(loader) == [[0, 1], [2, 3], [4]]
    assert loader.collate_fn is names is loader.collate
    assert list(DataLoader(_ds(5), batch_size=2, collate=names)) == [[0, 1], [2, 3], [4]]


def test_state_dict_resumes_a_seeded_sampler() -> None:
    def make():
        return DataLoader(_ds(), batch_size=5, sampler=RandomSampler(_ds(), generator=3))

    run = make()
    list(run)
    state = run.state_dict()
    expected = _ids(run)
    resumed = make()
    resumed.load_state_dict(state)
    assert _ids(resumed) == expected


def test_copies_do_not_share_workers_and_main_has_no_worker_info() -> None:
    loader = DataLoader(_ds(), batch_size=2, num_workers=1, persistent_workers=True)
    loader._pool = object()  # stands in for running workers
    assert copy.copy(loader)._pool is None
    assert get_worker_info() is None


def test_pytorch_arguments_are_accepted() -> None:
    loader = DataLoader(
        _ds(),
        batch_size=4,
        shuffle=None,
        num_workers=2,
        pin_memory=True,
        timeout=5.0,
        prefetch_factor=3,
        persistent_workers=True,
        multiprocessing_context=mp.get_context("spawn"),
    )
    assert (loader.num_workers, loader.prefetch_factor, loader.persistent_workers) == (2, 3, True)
    assert DataLoader(_ds(), num_workers=1).prefetch_factor == 2
    assert "num_workers=2" in repr(loader)


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"shuffle": True, "sampler": [0, 1]}, ValueError, "`sampler` and `shuffle=True`"),
        ({"batch_size": 4, "batch_sampler": [[0]]}, ValueError, "`batch_sampler` is mutually"),
        ({"drop_last": True, "batch_sampler": [[0]]}, ValueError, "`batch_sampler` is mutually"),
        ({"sampler": [0], "batch_sampler": [[0]]}, ValueError, "`batch_sampler` is mutually"),
        ({"sampler": 3}, TypeError, "`sampler` must be an iterable"),
        ({"collate": sorted, "collate_fn": sorted}, ValueError, "both `collate` and `collate_fn`"),
        ({"collate_fn": 3}, TypeError, "`collate_fn` must be callable"),
        ({"num_workers": -1}, ValueError, "`num_workers` must be an int >= 0, got -1"),
        ({"num_workers": 1.5}, TypeError, "`num_workers` must be an int >= 0"),
        ({"prefetch_factor": 2}, ValueError, "`prefetch_factor` needs num_workers > 0"),
        (
            {"num_workers": 1, "prefetch_factor": 0},
            ValueError,
            "`prefetch_factor` must be a positive",
        ),
        ({"persistent_workers": True}, ValueError, "`persistent_workers=True` needs num_workers"),
        ({"timeout": -1}, ValueError, "`timeout` must be a finite number of seconds >= 0"),
        ({"timeout": "1"}, TypeError, "`timeout` must be a number"),
        ({"worker_init_fn": 1}, TypeError, "`worker_init_fn` must be callable"),
        ({"multiprocessing_context": "fork"}, ValueError, "GNU OpenMP hangs"),
        ({"multiprocessing_context": mp.get_context("fork")}, ValueError, "got 'fork'"),
        ({"multiprocessing_context": "threads"}, ValueError, "must be None, 'spawn', 'forkserver'"),
        ({"drop_last": SequentialSampler(range(3))}, TypeError, "pass samplers by keyword"),
        ({"shuffle": "yes"}, TypeError, "`shuffle` must be a bool"),
    ],
)
def test_bad_arguments_raise(kwargs, error, pattern) -> None:
    with pytest.raises(error, match=pattern):
        DataLoader(_ds(), **kwargs)


@pytest.mark.torch
def test_batches_match_torch_for_samplers_and_drop_last() -> None:
    torch = pytest.importorskip("torch")
    data = torch.utils.data
    x = np.arange(23, dtype=np.float32)
    for bs, drop in [(4, False), (4, True), (23, False), (5, True)]:
        ours = _ids(DataLoader(_ds(23), batch_size=bs, drop_last=drop))
        theirs = [
            b.tolist() for b in data.DataLoader(torch.arange(23), batch_size=bs, drop_last=drop)
        ]
        assert ours == theirs
    idx = [[3, 1], [0], [22, 5, 6]]
    ours = [b.tolist() for b in DataLoader(x, batch_sampler=idx)]
    theirs = [b.tolist() for b in data.DataLoader(torch.from_numpy(x), batch_sampler=idx)]
    assert ours == theirs
    assert len(DataLoader(x, batch_size=4, sampler=range(10), drop_last=True)) == len(
        data.DataLoader(x, batch_size=4, sampler=range(10), drop_last=True)
    )
