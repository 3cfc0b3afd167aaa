"""Atomic file replacement: write a temporary file, fsync it, rename it over the target."""

from __future__ import annotations

import contextlib
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterator
from typing import IO, Any

__all__ = ["atomic_write"]


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str], mode: str = "wb", *, encoding: str | None = None
) -> Iterator[IO[Any]]:
    """Open a temporary file that replaces ``path`` only once the block has finished.

    The temporary file lives in the target's directory (so the final rename stays on one
    file system). When the ``with`` block exits normally the file is flushed, fsynced,
    renamed over ``path`` with :func:`os.replace` (atomic on POSIX and Windows) and the
    directory is fsynced so the rename survives a power cut. When the block raises
    (including ``KeyboardInterrupt``) the temporary file is removed and ``path`` is left
    exactly as it was: a crash never leaves a half-written file and an existing file is
    never lost. The new file gets the mode of the file it replaces, or the usual
    ``0o666 & ~umask`` when there was none.

    A process killed mid-write (SIGKILL, power cut) cannot remove its temporary file,
    ``.<name>.<8 random characters>.tmp`` next to the target. After each successful
    replacement, such leftovers *of the same target* are deleted: only regular files
    matching exactly that pattern, and only those last modified before the running
    process started (so no write still in progress in this process is touched).

    Parameters
    ----------
    path : str or os.PathLike
        The file to create or replace. If it is a symbolic link, the link itself is
        replaced.
    mode : {"wb", "w"}
        Binary or text mode.
    encoding : str, optional
        Text encoding for ``mode="w"`` (default UTF-8); must be None in binary mode.

    Yields
    ------
    file object
        The open temporary file; write the full contents to it.

    Examples
    --------
    >>> with atomic_write("model.safetensors") as f:  # doctest: +SKIP
    ...     f.write(payload)
    """
    if mode not in ("wb", "w"):
        msg = f'atomic_write: `mode` must be "wb" or "w", got {mode!r}'
        raise ValueError(msg)
    if mode == "wb" and encoding is not None:
        msg = "atomic_write: `encoding` must be None in binary mode"
        raise ValueError(msg)
    if mode == "w" and encoding is None:
        encoding = "utf-8"
    target = os.path.abspath(os.fspath(path))
    directory, name = os.path.split(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _new_file_mode(target))
        os.replace(tmp, target)
        _remove_stale_temporaries(directory, name)
    except BaseException:
        # os.fdopen closes fd itself even when it fails; the temporary file may already
        # be renamed away, hence the suppress.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _remove_stale_temporaries(directory: str, name: str) -> None:
    """Delete temporaries of ``name`` that killed writers left behind (see atomic_write)."""
    # tempfile.mkstemp names: prefix, 8 characters of [a-z0-9_], suffix.
    pattern = re.compile(rf"\.{re.escape(name)}\.[a-z0-9_]{{8}}\.tmp")
    started = process_start_time()
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            if not pattern.fullmatch(entry.name):
                continue
            with contextlib.suppress(OSError):
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(st.st_mode) and st.st_mtime < started:
                    os.unlink(entry.path)


def process_start_time() -> float:
    """When the running process started (seconds since the epoch), from /proc where it exists.

    Rounded down by 50 ms (the clocks behind it tick in 10 ms); elsewhere the time this
    module was imported, which is later than the start: both err on the side of keeping.
    """
    global _START
    if _START is None:
        _START = _IMPORTED
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open("/proc/self/stat", "rb") as f:
                # Field 22 (starttime, clock ticks since boot) follows the ")" of the name.
                ticks = int(f.read().rsplit(b")", 1)[1].split()[19])
            with open("/proc/uptime", "rb") as f:
                uptime = float(f.read().split()[0])
            since_start = uptime - ticks / os.sysconf("SC_CLK_TCK")
            _START = min(_IMPORTED, time.time() - since_start - 0.05)
    return _START


_IMPORTED = time.time()
_START: float | None = None


def _new_file_mode(target: str) -> int:
    """The permission bits the replaced file had, else 0o666 minus the umask."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process umask, read without changing it where the platform allows."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", "rb") as f:
        for line in f:
            if line.startswith(b"Umask:"):
                return int(line.split()[1], 8)
    old = os.umask(0o022)  # no read-only API elsewhere: set and restore at once
    os.umask(old)
    return old


def _fsync_directory(directory: str) -> None:
    """Make a rename inside ``directory`` durable (a no-op where directories can't be opened)."""
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(dfd)
    finally:
        os.close(dfd)
