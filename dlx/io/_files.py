"""Opening files that dlx reads: regular files only, checked on the open descriptor.

A FIFO makes ``open()`` block until a writer appears (forever, for a hostile path), and a
character device such as ``/dev/zero`` or ``/dev/urandom`` never ends. Every dlx reader
opens its input here: the file is opened with ``O_NONBLOCK`` (so a FIFO cannot block the
open) and ``fstat`` of the descriptor, which sees through symbolic links and cannot be
raced by swapping the path afterwards, must report a regular file.
"""

from __future__ import annotations

import fcntl
import io
import os
import stat

__all__ = ["open_regular"]

_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def open_regular(path: str | os.PathLike[str], what: str = "file") -> io.BufferedReader:
    """Open ``path`` for binary reading; refuse anything that is not a regular file.

    Raises ``FileNotFoundError``/``PermissionError`` as ``open`` would,
    ``IsADirectoryError`` for a directory, and ``ValueError`` naming the kind of file
    for a FIFO, device or socket.
    """
    where = os.fspath(path)
    fd = os.open(where, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            msg = f"{what} {where!r} is a directory"
            raise IsADirectoryError(msg)
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
            msg = f"{what} {where!r} must be a regular file, got {kind}"
            raise ValueError(msg)
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
