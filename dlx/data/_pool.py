"""The main-process side of DataLoader workers: start, dispatch, receive, watch, clean up.

Why never ``fork``: GNU libgomp (the OpenMP runtime of dlx's kernels) is not fork-safe.
Once the parent has run an OpenMP parallel region, the first parallel region in a child
made by ``fork()`` waits for pool threads that do not exist in the child and hangs
forever (measured; see BUILD-NOTES section 4). Workers are therefore started with
``forkserver`` (the default where it exists: forks of a clean server process that has
imported dlx but never run a kernel; a pool then starts in tens of milliseconds) or
``spawn`` (a fresh interpreter per worker, ~0.3-1 s each), and dataset objects must be
picklable.

Order and seeding: batch ``k`` of an epoch goes to worker ``k % num_workers`` and each
worker handles its batches in order, so the main process receives them in sampler order
(the same batches as ``num_workers=0``), and each worker's random draws depend only on
(loader seed, epoch, worker id). At most ``prefetch_factor`` batches per worker are in
flight, one per shared-memory slot.

Failure handling: the main process waits on a worker's pipe *and* its process sentinel,
so a worker that dies (SIGKILL, segfault, ``os._exit``) is noticed at once, with or
without a ``timeout``. Any failure tears the pool down: workers are killed and reaped
(no zombies), then every shared-memory segment of the pool is unlinked.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import pickle
import signal
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterator
from multiprocessing.connection import wait
from typing import Any

import numpy as np

from dlx.data import _shm
from dlx.data._worker import worker_main

# Workers run one OpenMP / BLAS thread each; these must be in the environment before the
# child imports NumPy and dlx (their thread pools size themselves at load time).
THREAD_ENV = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
START_METHODS = ("spawn", "forkserver")
# With a `timeout`, a worker gets at least this long to import and load the payload.
STARTUP_TIMEOUT_S = 120.0
SHUTDOWN_GRACE_S = 2.0

_env_lock = threading.Lock()


def get_context(spec: Any) -> Any:
    """The multiprocessing context for ``multiprocessing_context``.

    Default: ``forkserver`` where the platform has it (Linux, macOS), else ``spawn``.
    """
    if spec is None:
        spec = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    method = spec if isinstance(spec, str) else getattr(spec, "get_start_method", lambda: None)()
    if method == "fork":
        msg = (
            "DataLoader: `multiprocessing_context` must be 'spawn' or 'forkserver', got 'fork': "
            "GNU OpenMP hangs in a child forked after the parent ran a parallel region"
        )
        raise ValueError(msg)
    if method not in START_METHODS:
        msg = f"DataLoader: `multiprocessing_context` must be None, 'spawn', 'forkserver' or such a context, got {spec!r}"
        raise ValueError(msg)
    ctx = mp.get_context(method) if isinstance(spec, str) else spec
    if method == "forkserver":
        _preload_worker(ctx)
    return ctx


def _preload_worker(ctx: Any) -> None:
    """Have the fork server import dlx once, so each worker is a cheap fork of it.

    The server is a fresh interpreter that only imports modules and never runs a kernel,
    so its forks are as safe for OpenMP as spawned processes. Takes effect when the server
    starts (the first forkserver worker of the process); other preloads are kept.
    """
    from multiprocessing import forkserver

    # multiprocessing has no getter for the preload list: read it, defaulting as it does.
    current = list(getattr(forkserver._forkserver, "_preload_modules", ["__main__"]))
    if worker_main.__module__ not in current:
        ctx.set_forkserver_preload([*current, worker_main.__module__])


class _Resources:
    """Everything a pool must release; owned by a finalizer so it is released exactly once."""

    def __init__(self, prefix: str, num_workers: int) -> None:
        self.prefix, self.num_workers = prefix, num_workers
        self.procs: list[Any] = []
        self.conns: list[Any] = []
        self.payload: list[Any] = []
        self.reader = _shm.SlotReader()

    def release(self, abort: bool) -> None:
        if not abort:
            for conn in self.conns:
                with contextlib.suppress(OSError):
                    conn.send(None)
            deadline = time.monotonic() + SHUTDOWN_GRACE_S
            for p in self.procs:
                p.join(max(0.0, deadline - time.monotonic()))
        for p in self.procs:
            if p.exitcode is None:
                p.kill()
        for p in self.procs:
            p.join()  # reaps it: no zombie
        for w, conn in enumerate(self.conns):
            _drain_headers(conn, w, self.reader)
            conn.close()
        for p in self.procs:
            p.close()
        self.reader.close()
        _shm.release(self.payload)
        _shm.unlink_all(self.prefix, self.num_workers, self.reader.max_generation)


def _drain_headers(conn: Any, worker_id: int, reader: _shm.SlotReader) -> None:
    """Note the segments announced by batches nobody will read (for their clean-up)."""
    try:
        while conn.poll(0):
            msg = conn.recv()
            if msg and msg[0] == "batch":
                reader.note(worker_id, msg[3])
    except (EOFError, OSError, pickle.UnpicklingError, ValueError):
        pass


class WorkerPool:
    """``num_workers`` processes holding a copy of the loader's dataset and functions."""

    def __init__(
        self, cfg: dict[str, Any], num_workers: int, prefetch: int, ctx: Any, timeout: float
    ) -> None:
        self.num_workers, self.prefetch, self.timeout = num_workers, prefetch, timeout
        self.res = _Resources(_shm.new_prefix(), num_workers)
        self._finalizer = weakref.finalize(self, self.res.release, False)
        self.closed = False
        self.token = 0  # bumped by every epoch; an iterator of an older epoch is stale
        self.recoverable: BaseException | None = None  # the last exception a worker raised
        self.ready = [False] * num_workers
        self.outstanding: list[deque[tuple[int, int, np.ndarray]]] = [
            deque() for _ in range(num_workers)
        ]
        self.free = [list(range(prefetch)) for _ in range(num_workers)]
        try:
            payload, self.res.payload = _shm.dumps_sharing(cfg, self.res.prefix)
        except Exception as exc:
            self.shutdown(abort=True)
            msg = (
                "DataLoader: with num_workers > 0 the dataset, collate_fn, transforms and "
                "worker_init_fn are pickled for the worker processes, and this failed: "
                f"{type(exc).__name__}: {exc}. Define them at module level (no lambdas or "
                "local classes)."
            )
            raise TypeError(msg) from exc
        self.started = time.monotonic()
        try:
            self._start(ctx, payload)
        except BaseException:
            self.shutdown(abort=True)
            raise

    def _start(self, ctx: Any, payload: bytes) -> None:
        with _env_lock:
            saved = {k: os.environ.get(k) for k in THREAD_ENV}
            os.environ.update(dict.fromkeys(THREAD_ENV, "1"))
            try:
                for w in range(self.num_workers):
                    ours, theirs = ctx.Pipe(duplex=True)
                    args = (theirs, payload, w, self.num_workers, self.res.prefix, self.prefetch)
                    proc = ctx.Process(
                        target=worker_main, args=args, daemon=True, name=f"dlx-data-worker-{w}"
                    )
                    self.res.conns.append(ours)
                    proc.start()
                    self.res.procs.append(proc)
                    theirs.close()
            finally:
                for k, v in saved.items():
                    if v is None:
                        os.environ.pop(k, None)
                    else:
                        os.environ[k] = v

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.res.procs]

    def shutdown(self, abort: bool = False) -> None:
        """Stop the workers (politely unless ``abort``), reap them, unlink every segment."""
        self.closed = True
        if self._finalizer.alive:
            self._finalizer.detach()
            self.res.release(abort)

    # ----------------------------------------------------------------- epochs and tasks

    def begin_epoch(self, epoch: int, seed: int) -> int:
        """Discard what an abandoned epoch left in flight, then start epoch ``epoch``."""
        for w in range(self.num_workers):
            while self.outstanding[w]:
                self._take(w, discard=True)
        for w in range(self.num_workers):
            self._send(w, ("epoch", epoch, seed), None)
        self.token += 1
        return self.token

    def submit(self, k: int, indices: np.ndarray) -> None:
        """Send batch ``k`` to worker ``k % num_workers`` (a slot of it must be free)."""
        w = k % self.num_workers
        slot = self.free[w].pop()
        self._send(w, ("task", k, slot, indices), k)
        self.outstanding[w].append((k, slot, indices))

    def receive(self, k: int) -> Any:
        """Batch ``k``: the next answer of worker ``k % num_workers``."""
        return self._take(k % self.num_workers, discard=False)

    def _take(self, w: int, discard: bool) -> Any:
        k, slot, indices = self.outstanding[w][0]
        msg = self._message(w, k)
        self.outstanding[w].popleft()
        try:
            if msg[0] == "error":
                if discard:
                    return None
                self.recoverable = worker_exception(msg[2], k, indices)
                raise self.recoverable
            header = msg[3]
            if discard:
                self.res.reader.note(w, header)
                return None
            return self.res.reader.read(w, slot, header)
        finally:
            self.free[w].append(slot)

    def _message(self, w: int, k: int) -> Any:
        """The next batch / error message of worker ``w``; raises if it dies or times out."""
        deadline = self._deadline(w)
        while True:
            msg = self._wait(w, k, deadline)
            if msg[0] == "ready":
                self.ready[w] = True
                if all(self.ready):  # every worker has mapped the payload: unlink it now
                    _shm.release(self.res.payload)
                deadline = self._deadline(w)
                continue
            if msg[0] == "fatal":
                raise worker_exception(msg[2], None, None, stage=msg[1])
            if msg[1] != k:
                err = f"DataLoader: worker {w} answered batch {msg[1]} instead of {k}"
                raise RuntimeError(err)
            return msg

    def _deadline(self, w: int) -> float | None:
        if self.timeout <= 0:
            return None
        if self.ready[w]:
            return time.monotonic() + self.timeout
        return self.started + max(self.timeout, STARTUP_TIMEOUT_S)

    def _wait(self, w: int, k: int, deadline: float | None) -> Any:
        """Wait for worker ``w``'s pipe or its death (the process sentinel), until ``deadline``."""
        conn, proc = self.res.conns[w], self.res.procs[w]
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                state = "" if self.ready[w] else " (it had not finished starting up)"
                msg = (
                    f"DataLoader timed out after {self.timeout:g} s waiting for batch {k} "
                    f"from worker {w} (pid {proc.pid}){state}"
                )
                raise RuntimeError(msg)
            ready = wait([conn, proc.sentinel], remaining)
            if conn in ready or (ready and conn.poll(0)):
                try:
                    return conn.recv()
                except (EOFError, OSError):
                    raise self._died(w, k) from None
            if ready:
                raise self._died(w, k)

    def _send(self, w: int, msg: Any, k: int | None) -> None:
        try:
            self.res.conns[w].send(msg)
        except OSError:
            raise self._died(w, k) from None

    def _died(self, w: int, k: int | None) -> RuntimeError:
        if self.outstanding[w]:  # the batch it was working on (k may be one being sent)
            k = self.outstanding[w][0][0]
        proc = self.res.procs[w]
        proc.join(1.0)
        code = proc.exitcode
        if code is not None and code < 0:
            try:
                how = f"killed by signal {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exit code {code}"
        doing = f" while producing batch {k}" if k is not None else ""
        if code is not None and code > 0:
            hint = (
                "Its traceback, if any, is on stderr; a script that starts workers must run "
                'its training under `if __name__ == "__main__":`.'
            )
        else:
            hint = (
                "A crash in the dataset's code (e.g. a segfault in an extension) or the "
                "out-of-memory killer can do this; try num_workers=0 to see the error directly."
            )
        msg = f"DataLoader worker {w} (pid {proc.pid}) exited unexpectedly ({how}){doing}. {hint}"
        return RuntimeError(msg)


def worker_exception(
    report: dict[str, Any], k: int | None, indices: np.ndarray | None, stage: str | None = None
) -> BaseException:
    """The worker's exception, rebuilt in the main process with a note saying where it arose.

    The same type and arguments when the exception survives pickling, else a RuntimeError
    naming its type; ``worker_id``, ``sample_index`` and ``batch_index`` are set on it.
    """
    exc: Any = None
    if report["exception"] is not None:
        try:
            exc = pickle.loads(report["exception"])
        except Exception:  # noqa: BLE001 (an unpicklable exception: fall back to its text)
            exc = None
    if not isinstance(exc, BaseException):
        exc = RuntimeError(f"{report['type']}: {report['message']}")
    wid, i = report["worker_id"], report["sample_index"]
    if stage == "payload":
        where = (
            "while loading the dataset and functions it was sent (with spawn/forkserver "
            "they must be importable: defined in a module, not in an interactive session "
            "or inside a function)"
        )
    elif stage == "worker_init_fn":
        where = "in worker_init_fn"
    elif i is not None:
        where = f"while producing batch {k}, at sample index {i}"
    else:
        where = f"while producing batch {k} (indices {_preview(indices)})"
    exc.add_note(
        f"Raised in DataLoader worker {wid} (pid {report['pid']}) {where}. "
        f"Traceback in the worker:\n{report['traceback'].rstrip()}"
    )
    for attr, value in (("worker_id", wid), ("sample_index", i), ("batch_index", k)):
        with contextlib.suppress(AttributeError):
            setattr(exc, attr, value)
    return exc


def _preview(indices: np.ndarray | None) -> str:
    if indices is None:
        return "?"
    head = ", ".join(str(int(v)) for v in indices[:6])
    return f"[{head}{', ...' if len(indices) > 6 else ''}] of {len(indices)}"


class ParallelIter:
    """One epoch of batches from a pool, in sampler order."""

    def __init__(
        self,
        pool: WorkerPool,
        batches: Iterator[np.ndarray],
        count: int,
        epoch: int,
        seed: int,
        persistent: bool,
    ) -> None:
        self.pool, self._batches, self._count = pool, batches, count
        self.persistent = persistent
        self._returned = self._submitted = 0
        self._done = False
        try:
            self._token = pool.begin_epoch(epoch, seed)
            for _ in range(pool.prefetch * pool.num_workers):
                self._submit_next()
        except BaseException:
            self._fail(broken=True)
            raise

    @property
    def worker_pids(self) -> list[int]:
        return self.pool.pids

    def __iter__(self) -> ParallelIter:
        return self

    def __len__(self) -> int:
        if self._count < 0:
            msg = "DataLoader: this epoch's batch_sampler has no len()"
            raise TypeError(msg)
        return self._count

    def _submit_next(self) -> None:
        indices = next(self._batches, None)
        if indices is not None:
            self.pool.submit(self._submitted, indices)
            self._submitted += 1

    def __next__(self) -> Any:
        if self._done:
            raise StopIteration
        if self._token != self.pool.token or self.pool.closed:
            self._done = True
            msg = (
                "DataLoader: this iterator was superseded: a newer iteration over the same "
                "loader (persistent_workers=True) took its workers"
            )
            raise RuntimeError(msg)
        if self._returned >= self._submitted:
            self._finish()
            raise StopIteration
        try:
            batch = self.pool.receive(self._returned)
            self._returned += 1
            self._submit_next()
        except BaseException as exc:
            # A worker's own exception leaves the pool healthy; anything else (death,
            # timeout, a failed send, Ctrl-C) leaves it in an unknown state.
            self._fail(broken=exc is not self.pool.recoverable)
            self.pool.recoverable = None
            raise
        return batch

    def _finish(self) -> None:
        self._done = True
        if not self.persistent:
            self.pool.shutdown()

    def _fail(self, broken: bool) -> None:
        self._done = True
        if broken or not self.persistent:
            self.pool.shutdown(abort=True)

    def close(self) -> None:
        """Stop early: a non-persistent pool is torn down at once."""
        if not self._done:
            self._done = True
            if not self.persistent:
                self.pool.shutdown(abort=True)

    def __del__(self) -> None:
        self.close()
