"""A safetensors reader and writer in Python + NumPy.

The format (https://github.com/huggingface/safetensors): an 8-byte little-endian
unsigned header length ``n``, then ``n`` bytes of UTF-8 JSON, then the tensor bytes.
The JSON maps each tensor name to ``{"dtype": "F32", "shape": [2, 3],
"data_offsets": [begin, end]}`` (offsets relative to the first data byte) and may hold
``"__metadata__"``, a str -> str mapping. Data is little-endian and C-ordered, and the
tensors cover the data section exactly: no holes, no overlaps, nothing after the end.

Reading never unpickles or evaluates anything. The whole header is validated (length
against the file size, JSON structure, dtypes, shapes, offsets, coverage) before any
tensor memory is allocated, so a hostile or truncated file raises
:class:`SafetensorsError` and allocates at most the size of the file.
"""

from __future__ import annotations

import io
import json
import mmap as _mmap
import os
import struct
from collections.abc import Mapping
from typing import IO, Any

import numpy as np

from dlx.io._files import open_regular
from dlx.io._header import MAX_HEADER_SIZE, STORED, Entry, SafetensorsError, read_header
from dlx.io.atomic import atomic_write

__all__ = [
    "MAX_HEADER_SIZE",
    "SafetensorsError",
    "load_bytes",
    "load_file",
    "read_index",
    "read_metadata",
    "save_bytes",
    "save_file",
]

# The tensors of a file as read from its header: name -> (safetensors dtype, shape).
Index = dict[str, tuple[str, tuple[int, ...]]]

# NumPy (kind, itemsize) -> safetensors dtype, for writing.
# Rank of each dtype in the reference implementation's Dtype enum (orders the tensors).
_RANK = {
    "BOOL": 0, "U8": 1, "I8": 2, "I16": 3, "U16": 4, "F16": 5, "BF16": 6,
    "I32": 7, "U32": 8, "F32": 9, "F64": 10, "I64": 11, "U64": 12,
}  # fmt: skip
_CODES = {
    ("f", 8): "F64",
    ("f", 4): "F32",
    ("f", 2): "F16",
    ("i", 8): "I64",
    ("i", 4): "I32",
    ("i", 2): "I16",
    ("i", 1): "I8",
    ("u", 8): "U64",
    ("u", 4): "U32",
    ("u", 2): "U16",
    ("u", 1): "U8",
    ("b", 1): "BOOL",
}


# --------------------------------------------------------------------------- writing


def save_file(
    tensors: Mapping[str, Any],
    path: str | os.PathLike[str],
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Write ``tensors`` to ``path`` in the safetensors format, atomically.

    Parameters
    ----------
    tensors : mapping of str to array_like
        The tensors by name. Supported dtypes: float64/32/16, int64/32/16/8,
        uint64/32/16/8, bool, and ``ml_dtypes.bfloat16`` when that package is used.
        0-d and empty arrays are fine; non-contiguous or big-endian arrays are
        written as C-ordered little-endian data.
    path : str or os.PathLike
        Destination. It is written through :func:`dlx.io.atomic_write`: a crash or an
        exception mid-write leaves any previous file intact and no temporary file.
    metadata : mapping of str to str, optional
        Free-form text stored as the header's ``"__metadata__"``.

    Raises
    ------
    TypeError
        If a name, a metadata key or value is not a str, or an array's dtype cannot
        be stored.
    ValueError
        If a tensor is named ``"__metadata__"``.
    """
    header, arrays = _prepare(tensors, metadata, "save_file")
    with atomic_write(path) as f:
        _write(f, header, arrays)


def save_bytes(tensors: Mapping[str, Any], metadata: Mapping[str, str] | None = None) -> bytes:
    """Return ``tensors`` serialised in the safetensors format (see :func:`save_file`)."""
    header, arrays = _prepare(tensors, metadata, "save_bytes")
    buf = io.BytesIO()
    _write(buf, header, arrays)
    return buf.getvalue()


def _prepare(
    tensors: Mapping[str, Any], metadata: Mapping[str, str] | None, fn: str
) -> tuple[bytes, list[np.ndarray]]:
    """Validate the inputs; return the padded header bytes and the arrays in file order."""
    if not isinstance(tensors, Mapping):
        msg = f"{fn}: `tensors` must be a mapping of str to arrays, got {type(tensors).__name__}"
        raise TypeError(msg)
    items: list[tuple[str, str, np.ndarray]] = []
    for name, value in tensors.items():
        if not isinstance(name, str):
            msg = f"{fn}: tensor names must be str, got {name!r}"
            raise TypeError(msg)
        if name == "__metadata__":
            msg = f"{fn}: `tensors` may not contain the reserved name '__metadata__'"
            raise ValueError(msg)
        arr = np.asarray(value)
        items.append((name, _dtype_code(arr.dtype, name, fn), arr))
    # The reference writer's order: dtypes from widest to narrowest (ties in its enum
    # order), then names. With the header padded to 8 bytes every tensor starts aligned
    # to its item size, and the bytes match the reference writer's exactly.
    items.sort(key=lambda it: (-_RANK[it[1]], it[0]))
    header: dict[str, Any] = {}
    if metadata is not None:
        header["__metadata__"] = _check_metadata(metadata, fn)
    offset = 0
    arrays = []
    for name, code, arr in items:
        header[name] = {
            "dtype": code,
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + arr.nbytes],
        }
        offset += arr.nbytes
        arrays.append(arr)
    try:
        raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        msg = f"{fn}: a tensor name or metadata string is not valid Unicode: {exc}"
        raise ValueError(msg) from None
    return raw + b" " * (-len(raw) % 8), arrays


def _dtype_code(dtype: np.dtype, name: str, fn: str) -> str:
    if dtype.name == "bfloat16" and dtype.itemsize == 2:  # ml_dtypes.bfloat16
        return "BF16"
    code = _CODES.get((dtype.kind, dtype.itemsize))
    if code is None:
        supported = "float64/32/16, int64/32/16/8, uint64/32/16/8, bool"
        msg = (
            f"{fn}: tensor {name!r} has dtype {dtype}, which safetensors cannot store ({supported})"
        )
        raise TypeError(msg)
    return code


def _check_metadata(metadata: Mapping[str, str], fn: str) -> dict[str, str]:
    if not isinstance(metadata, Mapping):
        msg = f"{fn}: `metadata` must be a mapping of str to str, got {type(metadata).__name__}"
        raise TypeError(msg)
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            msg = f"{fn}: `metadata` must map str to str, got {key!r}: {value!r}"
            raise TypeError(msg)
    return dict(metadata)


def _write(f: IO[bytes], header: bytes, arrays: list[np.ndarray]) -> None:
    f.write(struct.pack("<Q", len(header)))
    f.write(header)
    for arr in arrays:
        _write_array(f, arr)


def _write_array(f: IO[bytes], arr: np.ndarray) -> None:
    """Write one array's bytes, C-ordered and little-endian."""
    if arr.dtype.name == "bfloat16":
        arr = arr.view(np.uint16)
    if arr.dtype.itemsize > 1:
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
    f.write(np.ascontiguousarray(arr).reshape(-1).view(np.uint8).data)


# --------------------------------------------------------------------------- reading


def load_file(path: str | os.PathLike[str], *, mmap: bool = False) -> dict[str, np.ndarray]:
    """Read every tensor of a safetensors file.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    mmap : bool
        False (default): read each tensor into a new, writable array. True: return
        read-only views of a memory map of the file (no copy; BF16 and BOOL tensors
        are still converted into new arrays).

    Returns
    -------
    dict of str to numpy.ndarray
        Tensors in file order, in native byte order. BF16 tensors come back as
        float32 (exactly: bfloat16 is the upper half of a float32).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ``path`` (after following symbolic links) is a FIFO, a device or a socket:
        only regular files are read, so a named pipe cannot block the call forever.
    SafetensorsError
        A ``ValueError`` naming the problem if the file is not valid safetensors.
    """
    where = os.fspath(path)
    with open_regular(path, "safetensors file") as f:
        size = os.fstat(f.fileno()).st_size
        entries, _, start = read_header(f, size, where)
        if mmap:
            return _from_buffer(_map(f, start, size), entries, copy=False)
        out = {}
        for e in entries:
            arr = np.empty(e.shape, STORED[e.dtype])
            if arr.nbytes:
                f.seek(start + e.begin)
                got = f.readinto(arr.reshape(-1).view(np.uint8).data)
                if got != arr.nbytes:
                    msg = f"{where}: file shrank while reading tensor {e.name!r}"
                    raise SafetensorsError(msg)
            out[e.name] = _to_native(arr, e.dtype)
        return out


def load_bytes(data: bytes | bytearray | memoryview) -> dict[str, np.ndarray]:
    """Read every tensor of an in-memory safetensors blob (see :func:`load_file`)."""
    view = memoryview(data).cast("B")
    entries, _, start = read_header(_MemoryReader(view), len(view), "<bytes>")
    return _from_buffer(np.frombuffer(view[start:], np.uint8), entries, copy=True)


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """Return the ``"__metadata__"`` mapping of a safetensors file ({} when absent).

    Only the header is read, and it is fully validated as in :func:`load_file`.
    """
    return read_index(path)[1]


def read_index(path: str | os.PathLike[str]) -> tuple[Index, dict[str, str]]:
    """The tensors' ``{name: (dtype, shape)}`` and the metadata, from the header alone.

    The header is fully validated as in :func:`load_file`; no tensor data is read.
    """
    with open_regular(path, "safetensors file") as f:
        entries, metadata, _ = read_header(f, os.fstat(f.fileno()).st_size, os.fspath(path))
    return {e.name: (e.dtype, e.shape) for e in entries}, metadata


class _MemoryReader:
    """The two file methods the header parser needs, over a memoryview."""

    def __init__(self, view: memoryview) -> None:
        self.view, self.pos = view, 0

    def read(self, n: int) -> bytes:
        chunk = self.view[self.pos : self.pos + n].tobytes()
        self.pos += len(chunk)
        return chunk

    def seek(self, pos: int) -> int:
        self.pos = max(0, min(pos, len(self.view)))
        return self.pos


def _map(f: IO[bytes], start: int, size: int) -> np.ndarray:
    """The data section of the open file ``f`` as a read-only uint8 array (no copy).

    The map comes from the descriptor that was validated, not from reopening the path.
    Tensors of a file whose header length is not a multiple of 8 come out misaligned;
    NumPy handles those, and dlx's kernels copy such arrays before use.
    """
    if size == start:  # mmap cannot map zero bytes
        return np.empty(0, np.uint8)
    mapped = _mmap.mmap(f.fileno(), size, access=_mmap.ACCESS_READ)
    return np.frombuffer(mapped, np.uint8, count=size - start, offset=start)


def _from_buffer(buf: np.ndarray, entries: list[Entry], *, copy: bool) -> dict[str, np.ndarray]:
    out = {}
    for e in entries:
        arr = buf[e.begin : e.end].view(STORED[e.dtype]).reshape(e.shape)
        out[e.name] = _to_native(arr.copy() if copy else arr, e.dtype)
    return out


def _to_native(arr: np.ndarray, code: str) -> np.ndarray:
    # In-place ops and astype keep 0-d arrays as arrays (ufuncs would return scalars).
    if code == "BF16":
        wide = arr.astype(np.uint32)
        wide <<= 16
        return wide.view(np.float32)
    if code == "BOOL":
        return arr.astype(np.bool_)
    if not arr.dtype.isnative:
        return arr.astype(arr.dtype.newbyteorder("="))
    return arr
