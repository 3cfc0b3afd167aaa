"""Datasets and functions for the DataLoader worker tests.

They live in a module of their own because spawned workers unpickle them by reference:
the module must be importable in a fresh interpreter (``tests/`` is on ``sys.path``
through pytest's ``pythonpath``, which spawn passes on to the children).
"""

from __future__ import annotations

import ctypes
import os
import signal
import time
from typing import Any

import numpy as np

import dlx
from dlx.data import Dataset, get_worker_info


class Samples(Dataset):
    """Per-sample dataset: ``(x, y)`` or ``{"x": x, "y": y}`` samples of index i.

    ``faults`` maps an epoch to ``(index, how)``: when a worker reads ``index`` in that
    epoch it raises (``"raise"`` a KeyError, ``"custom"`` an exception that cannot be
    unpickled), dies (``"kill"`` SIGKILL, ``"segv"`` a segfault) or hangs (``"sleep"``).
    """

    def __init__(
        self, n: int, kind: str = "tuple", faults: dict[int, tuple[int, str]] | None = None
    ):
        self.n, self.kind, self.faults = n, kind, faults or {}

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Any:
        info = get_worker_info()
        fault = self.faults.get(info.epoch) if info is not None else None
        if fault is not None and i == fault[0]:
            _misbehave(fault[1], i)
        x = np.arange(3, dtype=np.float32) + 10 * i
        if self.kind == "dict":
            return {"x": x, "y": np.int64(i)}
        return x, np.int64(i)


class CustomError(Exception):
    """An exception whose constructor signature breaks unpickling."""

    def __init__(self, code: int, where: str) -> None:
        super().__init__(f"custom failure {code} at {where}")
        self.code = code


def _misbehave(how: str, i: int) -> None:
    if how == "raise":
        msg = f"sample {i} is missing"
        raise KeyError(msg)
    if how == "custom":
        raise CustomError(7, f"sample {i}")
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if how == "segv":
        ctypes.string_at(0)  # reads address 0: SIGSEGV
    if how == "sleep":
        time.sleep(120)


class WorkerEcho(Dataset):
    """Sample i reports which worker made it and how that worker is set up."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Any:
        info = get_worker_info()
        return {
            "index": np.int64(i),
            "worker": np.int64(info.id),
            "num_workers": np.int64(info.num_workers),
            "seed": np.uint64(info.seed),
            "pid": np.int64(os.getpid()),
            "omp": np.int64(int(os.environ.get("OMP_NUM_THREADS", "-1"))),
            "dlx_threads": np.int64(dlx.get_num_threads()),
            "init": np.int64(int(os.environ.get("DLX_TEST_WORKER_INIT", "-1"))),
            "draw": np.float64(np.random.random()),  # noqa: NPY002 (the legacy global RNG is seeded)
        }


def record_init(worker_id: int) -> None:
    """A worker_init_fn leaving a trace that WorkerEcho reports."""
    os.environ["DLX_TEST_WORKER_INIT"] = str(100 + worker_id)


def failing_init(worker_id: int) -> None:
    msg = f"init of worker {worker_id} failed"
    raise ValueError(msg)


def collate_keep_ids(samples: list[Any]) -> dict[str, Any]:
    """A custom collate: stacked inputs, the ids as a list of ints, a constant string."""
    return {
        "x": np.stack([s["x"] for s in samples]),
        "ids": [int(s["y"]) for s in samples],
        "tag": "custom",
    }


def as_tensor_batch(samples: list[Any]) -> tuple[Any, Any]:
    """A custom collate returning dlx Tensors."""
    x = np.stack([s[0] for s in samples])
    return dlx.from_numpy(x), np.array([s[1] for s in samples])


class FailsToLoad:
    """Pickles fine in the main process; loading it in a worker raises."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_refuse_to_load, ())


def _refuse_to_load() -> None:
    msg = "this object cannot be loaded here"
    raise RuntimeError(msg)


class WithLoadFailure(Samples):
    def __init__(self, n: int) -> None:
        super().__init__(n)
        self.trap = FailsToLoad()
