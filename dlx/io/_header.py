"""Parsing and validation of a safetensors header (no tensor memory is touched here).

Every check runs before the caller allocates anything: header length against the file
size and a cap, UTF-8, JSON structure (no duplicate keys, no NaN/Infinity), metadata
str -> str, known dtypes, non-negative int shapes, offsets whose span matches
dtype x shape, and offsets that tile the data section exactly (no overlap, no hole,
nothing past the end or after the last tensor).
"""

from __future__ import annotations

import json
import math
import struct
from typing import Any, NamedTuple

import numpy as np

# Same cap as the reference implementation: no honest header comes near 100 MB.
MAX_HEADER_SIZE = 100_000_000
_MAX_NDIM = 64  # NumPy's limit

# safetensors dtype -> little-endian NumPy dtype of the stored bytes.
STORED: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),  # bit pattern; widened to float32 on reading
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"),
    "U32": np.dtype("<u4"),
    "U16": np.dtype("<u2"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("u1"),  # read as bytes, any non-zero byte is True
}
# Valid safetensors dtypes that NumPy has no type for.
_UNSUPPORTED = ("F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64")


class SafetensorsError(ValueError):
    """A safetensors file (or byte string) is malformed, truncated or hostile."""


class Entry(NamedTuple):
    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


def read_header(f: Any, size: int, where: str) -> tuple[list[Entry], dict[str, str], int]:
    """Parse and validate the header; return the entries, metadata and data start."""
    try:
        return _parse_header(f, size)
    except SafetensorsError as exc:
        hint = _format_hint(f)
        msg = f"{where}: not a valid safetensors file: " + (f"{hint} ({exc})" if hint else f"{exc}")
        raise SafetensorsError(msg) from None


def _format_hint(f: Any) -> str | None:
    """What the file is instead (a PyTorch checkpoint ...), from its first bytes."""
    from dlx.io._sniff import SAFETENSORS, describe, sniff

    try:
        f.seek(0)
        head = f.read(16)
    except (AttributeError, OSError, ValueError):
        return None
    return None if sniff(head) == SAFETENSORS else describe(head)


def _parse_header(f: Any, size: int) -> tuple[list[Entry], dict[str, str], int]:
    if size < 8:
        msg = f"it has {size} bytes, fewer than the 8-byte header length"
        raise SafetensorsError(msg)
    (n,) = struct.unpack("<Q", f.read(8))
    if n > size - 8:
        msg = f"the header length {n} is larger than the rest of the file ({size - 8} bytes)"
        raise SafetensorsError(msg)
    if n > MAX_HEADER_SIZE:
        msg = f"the header length {n} exceeds the {MAX_HEADER_SIZE}-byte limit"
        raise SafetensorsError(msg)
    raw = f.read(n)
    if len(raw) != n:
        msg = "the file shrank while reading the header"
        raise SafetensorsError(msg)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        msg = f"the header is not UTF-8 ({exc})"
        raise SafetensorsError(msg) from None
    try:
        header = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        msg = f"the header is not valid JSON ({exc})"
        raise SafetensorsError(msg) from None
    if not text.startswith("{") or not isinstance(header, dict):
        msg = "the header is not a JSON object"
        raise SafetensorsError(msg)
    metadata = header.pop("__metadata__", None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        msg = f"'__metadata__' must map str to str, got {_short(metadata)}"
        raise SafetensorsError(msg)
    entries = [_entry(name, info) for name, info in header.items()]
    entries.sort(key=lambda e: (e.begin, e.end))
    _check_coverage(entries, size - 8 - n)
    return entries, metadata, 8 + n


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        names = [k for k, _ in pairs]
        dup = next(k for i, k in enumerate(names) if k in names[:i])
        msg = f"duplicate key {dup!r}"
        raise ValueError(msg)
    return out


def _no_constant(name: str) -> None:
    msg = f"{name} is not allowed"
    raise ValueError(msg)


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _short(x: object) -> str:
    text = repr(x)
    return text if len(text) <= 80 else text[:77] + "..."


def _entry(name: str, info: object) -> Entry:
    """Validate one tensor's header entry (everything but its place among the others)."""
    if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
        msg = f"tensor {name!r} must be an object with exactly 'dtype', 'shape' and 'data_offsets'"
        raise SafetensorsError(msg)
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if dtype in _UNSUPPORTED:
        msg = f"tensor {name!r} has dtype {dtype}, which dlx cannot represent in NumPy"
        raise SafetensorsError(msg)
    if not isinstance(dtype, str) or dtype not in STORED:
        msg = f"tensor {name!r} has unknown dtype {_short(dtype)}"
        raise SafetensorsError(msg)
    if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
        msg = f"tensor {name!r} has shape {_short(shape)}; expected a list of non-negative ints"
        raise SafetensorsError(msg)
    if len(shape) > _MAX_NDIM:
        msg = f"tensor {name!r} has {len(shape)} dimensions; at most {_MAX_NDIM} are supported"
        raise SafetensorsError(msg)
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_int, offsets))):
        msg = f"tensor {name!r} has data_offsets {_short(offsets)}; expected [begin, end] ints"
        raise SafetensorsError(msg)
    begin, end = offsets
    if not 0 <= begin <= end:
        msg = f"tensor {name!r} has data_offsets {offsets}; expected 0 <= begin <= end"
        raise SafetensorsError(msg)
    nbytes = math.prod(shape) * STORED[dtype].itemsize
    if end - begin != nbytes:
        msg = (
            f"tensor {name!r} of dtype {dtype} and shape {shape} needs {nbytes} bytes, "
            f"but its data_offsets {offsets} span {end - begin}"
        )
        raise SafetensorsError(msg)
    return Entry(name, dtype, tuple(shape), begin, end)


def _check_coverage(entries: list[Entry], data_size: int) -> None:
    """The tensors (sorted by offset) must tile the data section [0, data_size) exactly."""
    pos, prev = 0, ""
    for e in entries:
        if e.end > data_size:
            msg = (
                f"tensor {e.name!r} ends at data offset {e.end}, past the end of the "
                f"data section ({data_size} bytes)"
            )
            raise SafetensorsError(msg)
        if e.begin < pos:
            msg = f"tensors {prev!r} and {e.name!r} overlap (data offsets {pos} and {e.begin})"
            raise SafetensorsError(msg)
        if e.begin > pos:
            msg = f"data bytes {pos}..{e.begin} belong to no tensor"
            raise SafetensorsError(msg)
        pos, prev = e.end, e.name
    if pos != data_size:
        msg = f"data bytes {pos}..{data_size} belong to no tensor"
        raise SafetensorsError(msg)
