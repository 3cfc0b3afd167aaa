"""The DataLoader worker process, and :func:`get_worker_info`.

A worker is started with ``spawn`` or ``forkserver`` (never ``fork``: see
:mod:`dlx.data._pool`), receives a pickled payload (dataset, collate_fn, transforms,
worker_init_fn; large arrays arrive as shared-memory views), then serves messages from
the main process over its pipe:

- ``("epoch", epoch, seed)``: reseed (Python's ``random``, NumPy's global generator,
  dlx's default generator and the dlx random transforms) from ``(seed, epoch, worker id)``;
  before the first epoch's tasks, call ``worker_init_fn(worker_id)``;
- ``("task", k, slot, indices)``: produce batch ``k``, write it into shared-memory slot
  ``slot`` and answer ``("batch", k, slot, header)``, or ``("error", k, report)``;
- ``None``: exit.

It answers ``("ready", pid)`` once the payload is loaded, and ``("fatal", stage, report)``
(then exits) when the payload cannot be loaded or ``worker_init_fn`` raises.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import random
import signal
import sys
import traceback
from typing import Any

import numpy as np

from dlx.data import _random, _shm
from dlx.data._fetch import Progress, fetch

__all__ = ["WorkerInfo", "get_worker_info"]


class WorkerInfo:
    """What :func:`get_worker_info` returns inside a worker (PyTorch's fields, plus ``epoch``).

    Attributes
    ----------
    id : int
        This worker's index, ``0 <= id < num_workers``.
    num_workers : int
        Workers of this DataLoader.
    seed : int
        This worker's seed for the current epoch, derived from (loader seed, epoch, id); the
        worker has seeded ``random``, ``numpy.random`` and ``dlx.manual_seed`` with it.
    epoch : int
        The epoch being produced.
    dataset : object
        The worker's copy of the dataset.
    """

    __slots__ = ("dataset", "epoch", "id", "num_workers", "seed")

    def __init__(self, worker_id: int, num_workers: int, dataset: Any) -> None:
        self.id, self.num_workers, self.dataset = worker_id, num_workers, dataset
        self.seed = 0
        self.epoch = -1

    def __repr__(self) -> str:
        return (
            f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed}, "
            f"epoch={self.epoch}, dataset={type(self.dataset).__name__})"
        )


_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """In a DataLoader worker, its :class:`WorkerInfo`; None in the main process.

    As in PyTorch, use it in ``worker_init_fn`` or inside the dataset to configure each
    worker (e.g. to seed a dataset's own generator with ``info.seed``).
    """
    return _info


def worker_main(
    conn: Any, payload: bytes, worker_id: int, num_workers: int, prefix: str, slots: int
) -> None:
    """Entry point of a worker process (the ``target`` of its ``Process``)."""
    code = 1
    try:
        code = _serve(conn, payload, worker_id, num_workers, prefix, slots)
    except BaseException:  # noqa: BLE001 (an internal failure: leave a trace, exit non-zero)
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                stream.flush()
        # Skip interpreter teardown: the payload's shared arrays are still exported, and
        # closing their segments there would only print BufferErrors. The main process
        # owns every segment's clean-up.
        os._exit(code)


def _serve(
    conn: Any, payload: bytes, worker_id: int, num_workers: int, prefix: str, slots: int
) -> int:
    global _info
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    import dlx

    dlx.set_num_threads(1)  # the main process keeps the cores (worker_init_fn may change it)
    try:
        cfg = pickle.loads(payload)
    except BaseException as exc:  # noqa: BLE001 (reported to the main process)
        _send(conn, ("fatal", "payload", _report(exc, worker_id, None)))
        return 1
    _info = WorkerInfo(worker_id, num_workers, cfg["dataset"])
    writer = _shm.SlotWriter(prefix, worker_id, slots)
    if not _send(conn, ("ready", os.getpid())):
        return 0
    initialised = False
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):  # the main process is gone
            return 0
        if msg is None:
            return 0
        if msg[0] == "epoch":
            _seed(_info, msg[2], msg[1])
            if not initialised:
                initialised = True
                if cfg["worker_init_fn"] is not None:
                    try:
                        cfg["worker_init_fn"](worker_id)
                    except Exception as exc:  # noqa: BLE001 (reported to the main process)
                        _send(conn, ("fatal", "worker_init_fn", _report(exc, worker_id, None)))
                        return 1
            continue
        _, k, slot, indices = msg
        progress = Progress()
        try:
            batch = fetch(
                cfg["dataset"],
                indices,
                cfg["collate"],
                cfg["transform"],
                cfg["target_transform"],
                progress,
            )
            reply = pickle.dumps(
                ("batch", k, slot, writer.write(slot, batch)), pickle.HIGHEST_PROTOCOL
            )
        except Exception as exc:  # noqa: BLE001 (reported to the main process)
            reply = pickle.dumps(("error", k, _report(exc, worker_id, progress.index)))
        try:
            conn.send_bytes(reply)
        except OSError:
            return 0


def _seed(info: WorkerInfo, base_seed: int, epoch: int) -> None:
    """Seed every generator the worker's code may draw from, from (seed, epoch, worker id)."""
    import dlx

    ss = np.random.SeedSequence(base_seed, spawn_key=(epoch, info.id))
    info.seed, info.epoch = int(ss.generate_state(1, np.uint64)[0]), epoch
    random.seed(info.seed)
    np.random.seed(ss.generate_state(4))  # noqa: NPY002 (user code may use the legacy global RNG)
    dlx.manual_seed(info.seed)
    _random.worker_stream = _random.WorkerStream(base_seed, epoch, info.id)


def _send(conn: Any, msg: Any) -> bool:
    try:
        conn.send(msg)
    except OSError:
        return False
    return True


def _report(exc: BaseException, worker_id: int, sample_index: int | None) -> dict[str, Any]:
    """What the main process needs to re-raise ``exc``: the exception itself when it survives
    pickling, else its type and message; the worker's traceback; where it happened."""
    blob: bytes | None
    try:
        blob = pickle.dumps(exc)
        pickle.loads(blob)  # custom __init__ signatures can pickle but not unpickle
    except Exception:  # noqa: BLE001 (then its type and message travel as text)
        blob = None
    return {
        "exception": blob,
        "type": f"{type(exc).__module__}.{type(exc).__qualname__}",
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(exc)),
        "worker_id": worker_id,
        "pid": os.getpid(),
        "sample_index": sample_index,
    }
