"""DataLoader worker processes: order, seeding, failures and clean-up.

The default start method is forkserver (after the server's start a pool starts in tens
of milliseconds); one case runs spawn (~0.3-1 s per worker). Tests still reuse their
loaders across several assertions.
"""

from __future__ import annotations

import os
import re
import sys
import time

import numpy as np
import pytest
from data_worker_helpers import (
    Samples,
    WithLoadFailure,
    WorkerEcho,
    as_tensor_batch,
    collate_keep_ids,
    failing_init,
    record_init,
)

import dlx
from dlx.data import (
    BatchSampler,
    DataLoader,
    DistributedSampler,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    _random,
    get_worker_info,
)
from dlx.data._pool import THREAD_ENV
from dlx.data.transforms import Compose, GaussianNoise, RandomCrop, RandomHorizontalFlip

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="checks processes and /dev/shm through /proc"
)


def _segments() -> list[str]:
    """This process's DataLoader shared-memory segments, as /dev/shm lists them."""
    prefix = f"dlx{os.getpid()}_"
    return sorted(f for f in os.listdir("/dev/shm") if f.startswith(prefix))


def _alive(pids: list[int]) -> list[int]:
    """The pids that still exist in any state (a zombie still has a /proc entry)."""
    return [p for p in pids if os.path.exists(f"/proc/{p}")]


def _zombie_children() -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] == "Z" and int(fields[1]) == os.getpid():
            out.append(int(entry))
    return out


def _same(a, b) -> None:
    """Batches are equal in structure, types and values."""
    if isinstance(a, dlx.Tensor):
        assert isinstance(b, dlx.Tensor)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray)
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert isinstance(b, dict)
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, tuple | list):
        assert type(a) is type(b)
        assert len(a) == len(b)
        for u, v in zip(a, b, strict=True):
            _same(u, v)
    else:
        assert a == b


def _epochs(loader, n: int = 2) -> list[list]:
    return [list(loader) for _ in range(n)]


# ------------------------------------------------------------------ order and seeding


def _images():
    x = np.random.default_rng(0).random((300, 3, 8, 8), dtype=np.float32)  # 230 KB: shared
    return TensorDataset(x, np.arange(300))


ORDER_CASES = {
    "tensor-dataset shuffle": lambda **w: DataLoader(
        _images(), batch_size=7, shuffle=True, generator=5, **w
    ),
    "weighted sampler, drop_last": lambda **w: DataLoader(
        Samples(60),
        batch_size=4,
        drop_last=True,
        sampler=WeightedRandomSampler(np.linspace(0, 1, 60), 50, generator=3),
        **w,
    ),
    "batch sampler, dict samples, custom collate": lambda **w: DataLoader(
        Samples(40, kind="dict"),
        batch_sampler=BatchSampler(SubsetRandomSampler(range(5, 35), generator=2), 6, False),
        collate_fn=collate_keep_ids,
        **w,
    ),
    "distributed sampler, tensor collate, spawn": lambda **w: DataLoader(
        Samples(45),
        batch_size=8,
        sampler=DistributedSampler(45, num_replicas=2, rank=1, seed=4),
        collate_fn=as_tensor_batch,
        **w,
    ),
}
WORKERS = {
    "tensor-dataset shuffle": {"num_workers": 2, "persistent_workers": True},
    "weighted sampler, drop_last": {
        "num_workers": 2,
        "prefetch_factor": 1,
        "persistent_workers": True,
    },
    "batch sampler, dict samples, custom collate": {"num_workers": 3, "persistent_workers": True},
    "distributed sampler, tensor collate, spawn": {
        "num_workers": 2,
        "persistent_workers": True,
        "multiprocessing_context": "spawn",
    },
}


@pytest.mark.parametrize("case", list(ORDER_CASES))
def test_workers_give_the_batches_of_num_workers_0(case) -> None:
    serial = _epochs(ORDER_CASES[case]())
    loader = ORDER_CASES[case](**WORKERS[case])
    parallel = _epochs(loader)
    _same(parallel, serial)
    assert len(parallel[0]) == len(loader)
    assert _segments(), "persistent workers keep their slots"
    payload = [s for s in _segments() if re.search(r"_d\d+$", s)]  # <prefix>d<n>
    assert payload == [], "the shared dataset is unlinked once every worker mapped it"
    loader._shutdown_workers()
    assert _segments() == []


def _augmenting(persistent: bool, seed: int = 11) -> DataLoader:
    # Every sample is the same image: a batch depends only on the random draws, so two
    # workers drawing the same stream would give identical batches.
    image = np.arange(36, dtype=np.float32).reshape(1, 1, 6, 6)
    x = np.repeat(image, 64, axis=0)
    aug = Compose([RandomCrop(6, padding=2), RandomHorizontalFlip(), GaussianNoise(0.5)])
    return DataLoader(
        TensorDataset(x, np.arange(64)),
        batch_size=8,
        shuffle=True,
        generator=seed,
        transform=aug,
        num_workers=2,
        persistent_workers=persistent,
    )


def test_augmentation_is_reproducible_and_independent_per_worker() -> None:
    persistent = _epochs(_augmenting(True))
    fresh = _epochs(_augmenting(False))  # new workers every epoch, same seed
    _same(persistent, fresh)
    first = persistent[0]
    assert not np.array_equal(first[0][0], first[1][0]), "workers 0 and 1 drew the same stream"
    assert not np.array_equal(first[0][0], persistent[1][0][0]), "epochs 0 and 1 drew the same"
    other = _augmenting(False, seed=12)
    assert not np.array_equal(next(iter(other))[0], first[0][0])


def test_worker_stream_rederives_transform_generators_per_epoch() -> None:
    crop_a, crop_b = RandomCrop(4, padding=2, generator=1), RandomCrop(4, padding=2, generator=2)
    unseeded = RandomHorizontalFlip()
    x = np.arange(2 * 16, dtype=np.float32).reshape(2, 1, 4, 4)
    try:
        draws = []
        for epoch in (0, 0, 1):
            _random.worker_stream = _random.WorkerStream(seed=5, epoch=epoch, worker_id=0)
            draws.append([t.rng.integers(2**62) for t in (crop_a, crop_b, unseeded)])
            crop_a(x)  # further calls in the same epoch keep the same generator
        assert draws[0] == draws[1]  # same (seed, epoch, worker) and order of first use
        assert draws[0] != draws[2]
        assert len(set(draws[0])) == 3  # own seeds and positions give distinct streams
    finally:
        _random.worker_stream = None
    main = RandomCrop(4, padding=2, generator=1)
    np.testing.assert_array_equal(main(x), RandomCrop(4, padding=2, generator=1)(x))


def test_worker_info_threads_init_fn_and_seeds() -> None:
    env_before = {k: os.environ.get(k) for k in THREAD_ENV}
    loader = DataLoader(
        WorkerEcho(24), batch_size=3, num_workers=2, worker_init_fn=record_init, generator=9
    )
    it = iter(loader)
    pids = it.worker_pids
    batches = list(it)
    assert get_worker_info() is None
    assert {k: os.environ.get(k) for k in THREAD_ENV} == env_before
    for k, b in enumerate(batches):
        w = k % 2
        np.testing.assert_array_equal(b["index"], np.arange(3 * k, 3 * k + 3))
        assert set(b["worker"].tolist()) == {w}
        assert set(b["num_workers"].tolist()) == {2}
        assert set(b["omp"].tolist()) == {1}
        assert set(b["dlx_threads"].tolist()) == {1}
        assert set(b["init"].tolist()) == {100 + w}
        expected = np.random.SeedSequence(9, spawn_key=(0, w)).generate_state(1, np.uint64)[0]
        assert set(b["seed"].tolist()) == {int(expected)}
    draws = np.concatenate([b["draw"] for b in batches])
    assert len(np.unique(draws)) == len(draws)
    assert len({int(b["pid"][0]) for b in batches}) == 2
    assert set(pids) == {int(b["pid"][0]) for b in batches}
    assert _alive(pids) == []  # the epoch ended: workers stopped and reaped
    # Stopping early tears the workers down at once.
    it = iter(loader)
    next(it)
    pids = it.worker_pids
    it.close()
    assert _alive(pids) == []
    assert _segments() == []


# ------------------------------------------------------------------ failures


def test_worker_exception_reraised_with_worker_and_sample() -> None:
    faults = {0: (13, "raise"), 1: (13, "custom")}
    loader = DataLoader(
        Samples(40, faults=faults), batch_size=4, num_workers=2, persistent_workers=True
    )
    with pytest.raises(KeyError, match="sample 13 is missing") as info:
        list(loader)
    exc = info.value
    assert (exc.worker_id, exc.sample_index, exc.batch_index) == (1, 13, 3)
    note = "\n".join(exc.__notes__)
    assert "DataLoader worker 1" in note
    assert "batch 3, at sample index 13" in note
    assert "_misbehave" in note  # the worker's traceback
    pids = loader._pool.pids
    with pytest.raises(RuntimeError, match=r"data_worker_helpers\.CustomError: custom failure 7"):
        list(loader)  # not unpicklable: re-raised by type name and message
    assert [b[1].tolist() for b in loader] == [list(range(i, i + 4)) for i in range(0, 40, 4)]
    assert loader._pool.pids == pids  # the same workers served all three epochs
    abandoned = iter(loader)
    next(abandoned)
    assert len(list(loader)) == 10  # a new epoch drains what the abandoned one left in flight
    with pytest.raises(RuntimeError, match="superseded"):
        next(abandoned)
    assert loader._pool.pids == pids
    loader._shutdown_workers()
    assert _alive(pids) == []
    assert _segments() == []


@pytest.mark.parametrize(("how", "signal_name"), [("kill", "SIGKILL"), ("segv", "SIGSEGV")])
def test_dead_worker_raises_promptly_without_leaks(how, signal_name) -> None:
    loader = DataLoader(
        Samples(40, faults={0: (13, how)}), batch_size=4, num_workers=2, persistent_workers=True
    )
    it = iter(loader)
    pids = it.worker_pids
    start = time.monotonic()
    pattern = rf"worker 1 \(pid {pids[1]}\) exited unexpectedly \(killed by signal {signal_name}\) while producing batch 3"
    with pytest.raises(RuntimeError, match=pattern):
        list(it)
    assert time.monotonic() - start < 60  # no timeout was set: liveness alone noticed it
    assert _alive(pids) == []
    assert _zombie_children() == []
    assert _segments() == []
    # The loader starts new workers for the next epoch.
    assert [b[1].tolist() for b in loader][-1] == [36, 37, 38, 39]
    assert set(loader._pool.pids).isdisjoint(pids)
    loader._shutdown_workers()
    assert _segments() == []


def test_timeout_raises_and_kills_the_stuck_worker() -> None:
    loader = DataLoader(
        Samples(40, faults={0: (13, "sleep")}), batch_size=4, num_workers=2, timeout=1
    )
    it = iter(loader)
    pids = it.worker_pids
    with pytest.raises(
        RuntimeError, match=r"timed out after 1 s waiting for batch 3 from worker 1"
    ):
        list(it)
    assert _alive(pids) == []
    assert _segments() == []


def test_worker_init_fn_and_payload_failures_are_reported() -> None:
    loader = DataLoader(Samples(8), batch_size=2, num_workers=1, worker_init_fn=failing_init)
    with pytest.raises(ValueError, match="init of worker 0 failed") as info:
        list(loader)
    assert "in worker_init_fn" in "\n".join(info.value.__notes__)
    loader = DataLoader(WithLoadFailure(8), batch_size=2, num_workers=1)
    with pytest.raises(RuntimeError, match="cannot be loaded here") as info:
        list(loader)
    assert "while loading the dataset" in "\n".join(info.value.__notes__)
    assert _segments() == []


def test_unpicklable_payload_is_a_type_error_before_any_worker_starts() -> None:
    loader = DataLoader(_images(), batch_size=4, transform=lambda a: a, num_workers=2)
    with pytest.raises(TypeError, match="pickled for the worker processes"):
        iter(loader)
    assert _segments() == []  # the dataset array shared before the failure is unlinked


# ------------------------------------------------------------------ the shared-memory layer


def test_slots_round_trip_batches_and_grow_in_place_of_the_old_segment() -> None:
    from collections import namedtuple

    from dlx.data import _shm

    Point = namedtuple("Point", ["x", "y"])
    prefix = _shm.new_prefix()
    writer, reader = _shm.SlotWriter(prefix, 0, slots=2), _shm.SlotReader()
    strided = np.arange(40, dtype=np.float64).reshape(5, 8)[:, ::3]
    structured = np.array([(1, 2.5)], dtype=[("a", "i4"), ("b", "f8")])
    batches = [
        (np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2])),
        {"x": strided, "empty": np.zeros((0, 4), np.int16), "tag": "t", "ids": [3, 4]},
        Point(dlx.from_numpy(np.ones((2, 2), np.float32)), structured),
        [np.zeros(3, dtype=object), None],
    ]
    try:
        for k, batch in enumerate(batches):
            header = writer.write(k % 2, batch)
            _same(reader.read(0, k % 2, header), batch)
        first = writer.write(0, np.zeros(10, np.float64))[0]
        grown = writer.write(0, np.zeros(100_000, np.float64))  # 800 KB > the old slot
        assert grown[0] != first
        assert first not in os.listdir("/dev/shm")  # the worker unlinked the old one
        np.testing.assert_array_equal(reader.read(0, 0, grown), np.zeros(100_000))
        assert writer.write(1, ("only", "objects"))[0] is None  # no arrays: no segment
    finally:
        reader.close()
        _shm.unlink_all(prefix, 1, reader.max_generation)
    assert not [s for s in os.listdir("/dev/shm") if s.startswith(prefix)]


def test_payload_shares_large_arrays_once_as_read_only_views(tmp_path) -> None:
    import pickle

    from dlx.data import _shm

    big = np.arange(50_000, dtype=np.float32)  # 200 KB: shared
    small = np.arange(10)  # pickled inline
    path = tmp_path / "m.dat"
    np.arange(12, dtype=np.int32).tofile(path)
    mapped = np.memmap(path, dtype=np.int32, mode="r", shape=(3, 4))
    prefix = _shm.new_prefix()
    blob, segments = _shm.dumps_sharing(
        {"big": big, "again": big, "small": small, "m": mapped}, prefix
    )
    try:
        assert len(segments) == 1  # the same array twice is shared once
        assert len(blob) < 2000  # no array payload in the pickle
        out = pickle.loads(blob)
        np.testing.assert_array_equal(out["big"], big)
        assert not out["big"].flags.writeable
        assert out["again"] is out["big"]
        np.testing.assert_array_equal(out["small"], small)
        assert isinstance(out["m"], np.memmap)
        np.testing.assert_array_equal(out["m"], mapped)
        del out  # drop the views before their mappings (closing under a view is a segfault)
    finally:
        _shm.release(segments)
        for seg in _shm._ATTACHED:  # the test process played the worker
            seg.close()
        _shm._ATTACHED.clear()
    assert not [s for s in os.listdir("/dev/shm") if s.startswith(prefix)]
