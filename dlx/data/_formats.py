"""Readers for the IDX (MNIST) and CIFAR-10 binary formats, validating before allocating.

IDX: a big-endian magic ``00 00 <type> <ndim>``, ``ndim`` big-endian uint32 sizes, then
the data C-ordered. Only type 0x08 (unsigned byte) is used by MNIST / Fashion-MNIST.
CIFAR-10 binary: records of 1 label byte + 3072 pixel bytes (3 x 32 x 32, channel
planes R, G, B, each row-major), 10000 records per batch file.
"""

from __future__ import annotations

import contextlib
import gzip
import math
import os
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from dlx.io._files import open_regular

__all__ = ["CIFAR_RECORD", "read_cifar_batches", "read_idx"]

CIFAR_RECORD = 1 + 3 * 32 * 32
_IDX_UBYTE = 0x08
_CHUNK = 1 << 24  # gzip is decompressed in 16 MiB steps, so memory follows real data
# Sanity cap on the pixels one IDX file may declare (EMNIST, the largest IDX set, has
# ~0.6 G); a header claiming more is corrupt, and is refused before any allocation.
_MAX_IDX_BYTES = 1 << 34


def read_idx(path: str, ndim: int) -> np.ndarray:
    """Read an unsigned-byte IDX file (raw, or gzip when ``path`` ends in .gz)."""
    kind = "images" if ndim == 3 else "labels"
    gz = path.endswith(".gz")
    try:
        with _open(path, gz) as f:
            head = f.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0:
                msg = f"{path}: not an IDX file (magic bytes {head.hex() or 'missing'})"
                raise ValueError(msg)
            if head[2] != _IDX_UBYTE or head[3] != ndim:
                expected = 0x0800 + ndim
                got = int.from_bytes(head, "big")
                hint = (
                    " (a labels file?)"
                    if head[3] == 1
                    else " (an images file?)"
                    if head[3] == 3
                    else ""
                )
                msg = (
                    f"{path}: expected an IDX {kind} file with magic 0x{expected:08x} "
                    f"(unsigned bytes, {ndim}-D), got 0x{got:08x}{hint}"
                )
                raise ValueError(msg)
            raw_dims = f.read(4 * ndim)
            if len(raw_dims) < 4 * ndim:
                msg = f"{path}: truncated IDX header"
                raise ValueError(msg)
            dims = struct.unpack(f">{ndim}I", raw_dims)
            nbytes = math.prod(dims)
            if nbytes > _MAX_IDX_BYTES:
                msg = f"{path}: IDX header declares dimensions {dims}, implausibly large"
                raise ValueError(msg)
            total = 4 + 4 * ndim + nbytes
            if gz:
                _check_gzip_size(path, total)
                data = _read_gzip(f, nbytes, path)
            else:
                size = os.fstat(f.fileno()).st_size
                if size != total:
                    msg = (
                        f"{path}: IDX header declares dimensions {dims}, which need a file of "
                        f"{total} bytes, but it has {size} (truncated or corrupt)"
                    )
                    raise ValueError(msg)
                data = np.empty(nbytes, np.uint8)
                if f.readinto(data.data) != nbytes:
                    msg = f"{path}: the file shrank while reading it"
                    raise ValueError(msg)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        msg = f"{path}: corrupt gzip data ({exc})"
        raise ValueError(msg) from None
    return data.reshape(dims)


@contextlib.contextmanager
def _open(path: str, gz: bool) -> Iterator[Any]:
    """The file (a regular file only, see :func:`dlx.io._files.open_regular`), gunzipped."""
    with open_regular(path, "data file") as raw:
        if not gz:
            yield raw
            return
        with gzip.GzipFile(fileobj=raw, mode="rb") as f:
            yield f


def _check_gzip_size(path: str, total: int) -> None:
    """Compare the gzip trailer's uncompressed size (mod 2**32) with what the header needs."""
    with open_regular(path, "data file") as raw:
        raw.seek(0, os.SEEK_END)
        if raw.tell() < 18:  # 10-byte gzip header + 8-byte trailer
            msg = f"{path}: too short to be a gzip file"
            raise ValueError(msg)
        raw.seek(-4, os.SEEK_END)
        isize = int.from_bytes(raw.read(4), "little")
    if isize != total % (1 << 32):
        msg = (
            f"{path}: the IDX header needs {total} bytes of data but the gzip stream holds "
            f"{isize} (truncated or corrupt)"
        )
        raise ValueError(msg)


def _read_gzip(f: Any, nbytes: int, path: str) -> np.ndarray:
    """Read exactly nbytes more from f, growing the buffer only as data really arrives."""
    buf = bytearray()
    while len(buf) < nbytes:
        chunk = f.read(min(_CHUNK, nbytes - len(buf)))
        if not chunk:
            msg = f"{path}: truncated: expected {nbytes} data bytes, got {len(buf)}"
            raise ValueError(msg)
        buf += chunk
    if f.read(1):
        msg = f"{path}: unexpected data after the {nbytes} bytes the IDX header declares"
        raise ValueError(msg)
    return np.frombuffer(buf, np.uint8)


def read_cifar_batches(paths: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Read CIFAR-10 binary batch files; return uint8 images (N, 3, 32, 32) and int64 labels."""
    sizes = []
    for path in paths:
        with open_regular(path, "data file") as f:
            size = os.fstat(f.fileno()).st_size
        if size == 0 or size % CIFAR_RECORD:
            msg = (
                f"{path}: a CIFAR-10 binary batch is a whole number of {CIFAR_RECORD}-byte "
                f"records, but the file has {size} bytes (truncated, or not the binary version)"
            )
            raise ValueError(msg)
        sizes.append(size)
    records = np.empty((sum(sizes) // CIFAR_RECORD, CIFAR_RECORD), np.uint8)
    flat = records.reshape(-1)
    pos = 0
    for path, size in zip(paths, sizes, strict=True):
        with open_regular(path, "data file") as f:
            if f.readinto(flat[pos : pos + size].data) != size:
                msg = f"{path}: the file shrank while reading it"
                raise ValueError(msg)
        pos += size
    labels = records[:, 0].astype(np.int64)
    if labels.size and labels.max() > 9:
        bad = int(np.argmax(labels > 9))
        msg = f"CIFAR-10 record {bad} has label {labels[bad]}; labels must be 0..9 (wrong file?)"
        raise ValueError(msg)
    # Splitting the contiguous 3072-byte row into (3, 32, 32) is a view, not a copy.
    return records[:, 1:].reshape(-1, 3, 32, 32), labels
