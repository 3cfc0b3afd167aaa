"""PyTorch checkpoints (``torch.save``) read without PyTorch and without running their code.

Two formats are read:

- **zip** (``torch.save``'s default since 1.6): a zip archive with one top-level folder
  holding ``data.pkl`` (the pickled object), ``byteorder`` (``little``/``big``) and
  ``data/<key>``, the raw bytes of each storage.
- **legacy** (``_use_new_zipfile_serialization=False``): a stream of pickles (magic
  number, protocol version, system info, the object, the storage keys) followed by each
  storage as an 8-byte element count and its bytes.

The pickles are read by a restricted unpickler: the only globals it resolves are the
tensor-rebuild functions, storage types and containers that PyTorch's own
``weights_only=True`` loader allows for plain tensors (``torch._utils._rebuild_tensor_v2``,
``_rebuild_parameter``, ``torch.FloatStorage`` ..., ``collections.OrderedDict``,
``torch.Size``, ``torch.device``, the dtypes), and each resolves to a stand-in written
here: nothing from ``torch`` or the file is imported or called. Any other global raises
:class:`UnsafeCheckpointError` naming it. Every storage's size is checked against its
bytes in the file, and every tensor's shape, strides and offset against its storage,
before anything is allocated.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import struct
import zipfile
import zlib
from typing import IO, Any

import numpy as np

from dlx.io._files import open_regular
from dlx.io._sniff import PICKLE, SAFETENSORS, ZIP, describe, sniff
from dlx.io._torch_pickle import (
    _BF16,
    _KEY,
    _LEGACY_MAGIC,
    _LEGACY_PROTOCOL,
    _VIEW_BUDGET,
    MAX_PICKLE_BYTES,
    MAX_RATIO,
    TorchCheckpointError,
    UnsafeCheckpointError,
    _Bounded,
    _int,
    _Pending,
    _Storage,
    _StorageType,
    _Unpickler,
)

__all__ = ["TorchCheckpointError", "UnsafeCheckpointError", "load_torch"]


# -- reading ----------------------------------------------------------------------------------
def load_torch(
    path: str | os.PathLike[str],
    map_location: Any = None,
    *,
    weights_only: bool | None = None,
    numpy: bool = False,
) -> Any:
    """Read a PyTorch checkpoint written by ``torch.save``, without PyTorch and safely.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.pt``/``.pth``/``.bin`` file in PyTorch's zip format (the default) or its
        legacy pickle format (``_use_new_zipfile_serialization=False``).
    map_location : None, "cpu" or dlx.device("cpu")
        Accepted as in ``torch.load``: every tensor is loaded on the CPU, whatever device
        it was saved from. Another device raises ``RuntimeError`` (dlx runs on the CPU).
    weights_only : True or None
        Accepted as in ``torch.load``; dlx always loads weights only. False raises
        ``ValueError``: dlx never runs code from a checkpoint.
    numpy : bool
        False (default): tensors come back as ``dlx.Tensor`` (saved Parameters as
        ``dlx.nn.Parameter``, with their ``requires_grad``). True: as NumPy arrays.

    Returns
    -------
    The saved object, with the same containers (an ``OrderedDict`` state dict, a dict of
    several state dicts and numbers ...), ready for ``model.load_state_dict``. Each tensor
    is a new array: strides and storage offsets are honoured, and tensors that shared a
    storage no longer share memory. float64/32/16 and int64/32/16/8, uint8, bool are
    kept; bfloat16 becomes float32 (exactly: bfloat16 is the upper half of a float32).
    A state dict's ``_metadata`` attribute is dropped.

    Raises
    ------
    UnsafeCheckpointError
        The pickle names a global other than the tensor-rebuild functions, storage types
        and containers that PyTorch's ``weights_only=True`` allows (a whole pickled
        ``nn.Module``, ``os.system`` ...); nothing of it ran.
    TorchCheckpointError
        A malformed or truncated file, a storage larger than its bytes in the file, a
        tensor outside its storage, a zip bomb, or a file in another format (the message
        names it).
    """
    from dlx._device import check_device

    check_device(map_location, "map_location")
    if weights_only is not None and weights_only is not True:
        msg = (
            f"`weights_only` must be True or None, got {weights_only!r}: dlx reads only "
            "tensors and containers and never runs code from a checkpoint"
        )
        raise ValueError(msg)
    where = os.fspath(path)
    with open_regular(path, "checkpoint") as f:
        head = f.read(512)
        kind = sniff(head)
        f.seek(0)
        try:
            if kind == ZIP:
                obj = _load_zip(f, where)
            elif kind == PICKLE:
                obj = _load_legacy(f, where, os.fstat(f.fileno()).st_size)
            else:
                msg = _not_torch(head, kind, where)
                raise TorchCheckpointError(msg)
        except TorchCheckpointError:
            raise
        except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            msg = f"{where}: truncated or corrupt PyTorch checkpoint: {exc}"
            raise TorchCheckpointError(msg) from None
        except (
            TypeError,
            ValueError,
            AttributeError,
            IndexError,
            KeyError,
            OverflowError,
            struct.error,
            OSError,  # zipfile seeking to an offset a damaged directory gives
        ) as exc:
            msg = f"{where}: malformed PyTorch checkpoint: {type(exc).__name__}: {exc}"
            raise TorchCheckpointError(msg) from None
        except RecursionError:
            msg = f"{where}: the checkpoint's objects are nested too deeply"
            raise TorchCheckpointError(msg) from None
        except (NotImplementedError, RuntimeError) as exc:  # zipfile: encrypted members ...
            msg = f"{where}: unsupported zip archive: {exc}"
            raise TorchCheckpointError(msg) from None
    try:
        return _resolve(obj, numpy, where)
    except (TypeError, ValueError, MemoryError) as exc:  # NumPy refusing a checked view
        if isinstance(exc, TorchCheckpointError):
            raise
        msg = f"{where}: cannot build a tensor of the checkpoint: {exc}"
        raise TorchCheckpointError(msg) from None


def _not_torch(head: bytes, kind: str | None, where: str) -> str:
    if len(head) >= 262 and head[257:262] == b"ustar":
        return (
            f"{where}: this is a tar archive (PyTorch's pre-1.0 checkpoint format), which dlx "
            "does not read; load and re-save it with a current PyTorch"
        )
    text = describe(head)
    if kind == SAFETENSORS:
        return f"{where}: {text}, not a PyTorch checkpoint"
    return f"{where}: not a PyTorch checkpoint" + (f": {text}" if text else " (unknown format)")


def _member_bytes(zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, cap: int) -> bytes:
    if info.file_size > cap:
        msg = f"{where}: zip member {info.filename!r} is {info.file_size} bytes, over the {cap}-byte limit"
        raise TorchCheckpointError(msg)
    with zf.open(info) as m:
        data = m.read(info.file_size)
    if len(data) != info.file_size:
        msg = f"{where}: zip member {info.filename!r} is truncated"
        raise TorchCheckpointError(msg)
    return data


def _check_member(info: zipfile.ZipInfo, where: str, archive: int) -> None:
    """The sizes a member declares must fit the archive (stored) or a sane ratio (deflated)."""
    if info.header_offset < 0 or info.header_offset + info.compress_size > archive:
        msg = (
            f"{where}: zip member {info.filename!r} claims {info.compress_size} bytes at offset "
            f"{info.header_offset}, past the end of the {archive}-byte archive (truncated?)"
        )
        raise TorchCheckpointError(msg)
    if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
        msg = f"{where}: stored zip member {info.filename!r} has inconsistent sizes"
        raise TorchCheckpointError(msg)
    if info.compress_type != zipfile.ZIP_STORED:
        if info.compress_type != zipfile.ZIP_DEFLATED:
            msg = f"{where}: zip member {info.filename!r} uses an unsupported compression"
            raise TorchCheckpointError(msg)
        if info.file_size > MAX_RATIO * max(info.compress_size, 1) + 4096:
            msg = (
                f"{where}: zip member {info.filename!r} would expand {info.compress_size} bytes "
                f"to {info.file_size} (more than {MAX_RATIO}x: a zip bomb?), refused"
            )
            raise TorchCheckpointError(msg)


def _load_zip(f: IO[bytes], where: str) -> Any:
    archive = f.seek(0, os.SEEK_END)
    f.seek(0)
    with zipfile.ZipFile(f) as zf:
        infos = zf.infolist()
        members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            _check_member(info, where, archive)
            name = info.filename
            parts = name.split("/")
            if (
                name.startswith("/")
                or "\\" in name
                or "\0" in name
                or ".." in parts
                or ":" in parts[0]
            ):
                msg = f"{where}: zip member name {name!r} points outside the archive, refused"
                raise TorchCheckpointError(msg)
            if name in members:
                msg = f"{where}: zip member {name!r} appears twice, refused"
                raise TorchCheckpointError(msg)
            members[name] = info
        pkls = [n for n in members if n.count("/") == 1 and n.endswith("/data.pkl")]
        if len(pkls) != 1:
            msg = (
                f"{where}: this zip archive is not a PyTorch checkpoint (no single <name>/data.pkl)"
            )
            raise TorchCheckpointError(msg)
        prefix = pkls[0][: -len("data.pkl")]
        order = members.get(prefix + "byteorder")
        byteorder = "little"
        if order is not None:
            byteorder = _member_bytes(zf, order, where, 16).decode("ascii", "replace").strip()
            if byteorder not in ("little", "big"):
                msg = f"{where}: unknown byteorder {byteorder!r}"
                raise TorchCheckpointError(msg)
        storages: dict[str, _Storage] = {}

        def persistent(pid: Any) -> _Storage:
            key, stype, numel = _storage_pid(pid, where)
            info = members.get(f"{prefix}data/{key}")
            if info is None:
                msg = f"{where}: storage {key!r} has no member {prefix}data/{key} in the archive"
                raise TorchCheckpointError(msg)
            return _storage(storages, key, stype, numel, info.file_size, where)

        raw = _member_bytes(zf, members[pkls[0]], where, MAX_PICKLE_BYTES)
        obj = _Unpickler(io.BytesIO(raw), persistent, where).load()
        for s in storages.values():
            info = members[f"{prefix}data/{s.key}"]
            with zf.open(info) as m:
                s.array = _read_storage(m, s, byteorder, where)
    return obj


def _storage_pid(pid: Any, where: str) -> tuple[str, _StorageType, int]:
    if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage":
        msg = f"{where}: unknown persistent id in the pickle: {str(pid)[:80]}"
        raise TorchCheckpointError(msg)
    _, stype, key, _location, numel = pid[:5]
    if not isinstance(stype, _StorageType):
        msg = f"{where}: a storage's type must be a torch storage class, got {type(stype).__name__}"
        raise TorchCheckpointError(msg)
    if not isinstance(key, str) or not _KEY.fullmatch(key) or key.startswith("."):
        msg = f"{where}: invalid storage key {str(key)[:80]!r}"
        raise TorchCheckpointError(msg)
    numel = _int(numel, f"the size of storage {key!r}")
    if len(pid) > 5 and pid[5] is not None:
        msg = f"{where}: storage views (legacy view metadata) are not supported"
        raise TorchCheckpointError(msg)
    return key, stype, numel


def _itemsize(stype: _StorageType) -> int:
    return 2 if stype.stored == _BF16 else np.dtype(stype.stored).itemsize


def _storage(
    storages: dict[str, _Storage],
    key: str,
    stype: _StorageType,
    numel: int,
    available: int,
    where: str,
) -> _Storage:
    """The storage ``key``, checked against the ``available`` bytes the file holds for it."""
    old = storages.get(key)
    if old is not None:
        if old.stype is not stype or old.numel != numel:
            msg = f"{where}: storage {key!r} is named with two different types or sizes"
            raise TorchCheckpointError(msg)
        return old
    if numel < 0 or numel * _itemsize(stype) > available:
        msg = (
            f"{where}: storage {key!r} claims {numel} {stype.name} elements "
            f"({numel * _itemsize(stype)} bytes) but the file holds {available} bytes for it"
        )
        raise TorchCheckpointError(msg)
    storages[key] = _Storage(key, stype, numel)
    return storages[key]


def _read_storage(f: IO[bytes], s: _Storage, byteorder: str, where: str) -> np.ndarray:
    """Read ``s.numel`` elements (the size was checked against the file before)."""
    stored = "u2" if s.stype.stored == _BF16 else s.stype.stored
    dtype = np.dtype(stored).newbyteorder("<" if byteorder == "little" else ">")
    arr = np.empty(s.numel, dtype)
    view = arr.view(np.uint8).data
    got = 0
    while got < arr.nbytes:
        n = f.readinto(view[got:])  # type: ignore[attr-defined]
        if not n:
            msg = f"{where}: storage {s.key!r} is truncated ({got} of {arr.nbytes} bytes)"
            raise TorchCheckpointError(msg)
        got += n
    if s.stype.stored == _BF16:
        wide = arr.astype(np.uint32)
        wide <<= 16
        return wide.view(np.float32)
    return arr.astype(dtype.newbyteorder("="), copy=False)


def _load_legacy(raw: IO[bytes], where: str, size: int) -> Any:
    f: Any = _Bounded(raw, size)

    def no_storage(pid: Any) -> Any:
        msg = f"{where}: unexpected persistent id in a legacy checkpoint header"
        raise TorchCheckpointError(msg)

    def header() -> Any:
        return _Unpickler(f, no_storage, where).load()

    if header() != _LEGACY_MAGIC:
        msg = f"{where}: a pickle, but not a PyTorch checkpoint (no PyTorch magic number)"
        raise TorchCheckpointError(msg)
    if header() != _LEGACY_PROTOCOL:
        msg = f"{where}: unsupported PyTorch legacy protocol version"
        raise TorchCheckpointError(msg)
    info = header()
    little = not (isinstance(info, dict) and info.get("little_endian") is False)
    storages: dict[str, _Storage] = {}

    def persistent(pid: Any) -> _Storage:
        key, stype, numel = _storage_pid(pid, where)
        return _storage(storages, key, stype, numel, size, where)

    obj = _Unpickler(f, persistent, where).load()
    keys = header()
    if not isinstance(keys, list) or any(not isinstance(k, str) for k in keys):
        msg = f"{where}: the legacy checkpoint's storage key list is malformed"
        raise TorchCheckpointError(msg)
    order = "<" if little else ">"
    for key in keys:
        s = storages.get(key)
        if s is None:
            msg = f"{where}: the legacy checkpoint lists storage {key!r}, which no tensor uses"
            raise TorchCheckpointError(msg)
        head = f.read(8)
        if len(head) != 8:
            msg = f"{where}: storage {key!r} is truncated"
            raise TorchCheckpointError(msg)
        (count,) = struct.unpack(order + "q", head)
        if count != s.numel:
            msg = f"{where}: storage {key!r} holds {count} elements, the pickle says {s.numel}"
            raise TorchCheckpointError(msg)
        left = size - raw.tell()
        if s.numel * _itemsize(s.stype) > left:
            msg = f"{where}: storage {key!r} needs {s.numel * _itemsize(s.stype)} bytes, {left} remain"
            raise TorchCheckpointError(msg)
        s.array = _read_storage(raw, s, "little" if little else "big", where)
    missing = [k for k, s in storages.items() if s.array is None]
    if missing:
        msg = f"{where}: storage(s) {missing[:5]} are used but not in the file"
        raise TorchCheckpointError(msg)
    return obj


# -- building the tensors ---------------------------------------------------------------------
def _materialise(p: _Pending, numpy: bool) -> Any:
    base = p.storage.array
    assert base is not None  # every used storage was read
    item = base.itemsize
    view = np.lib.stride_tricks.as_strided(
        base[p.offset :] if base.size else base,
        shape=p.shape,
        strides=tuple(s * item for s in p.strides),
        writeable=False,
    )
    if p.storage.views == 1 and view.size == base.size and view.flags.c_contiguous:
        arr = base.reshape(p.shape)  # the storage's only tensor, all of it: no second copy
    else:
        arr = np.array(view, copy=True, order="C")
    if numpy:
        return arr
    if p.parameter:
        from dlx.nn import Parameter

        return Parameter(arr, requires_grad=p.requires_grad)
    from dlx.tensor import Tensor

    return Tensor(arr, requires_grad=p.requires_grad and arr.dtype.kind == "f")


def _resolve(obj: Any, numpy: bool, where: str) -> Any:
    """Replace every pending tensor in ``obj``'s containers (cycles and sharing kept).

    The tensors built may together hold at most ``_VIEW_BUDGET`` times their storages'
    bytes (plus 64 MB): many overlapping views of one storage cannot blow up memory.
    """
    done: dict[int, Any] = {}
    budget = [64 << 20]
    seen: set[int] = set()

    def walk(x: Any) -> Any:
        key = id(x)
        if key in done:
            return done[key]
        if isinstance(x, _Pending):
            if id(x.storage) not in seen:
                seen.add(id(x.storage))
                budget[0] += _VIEW_BUDGET * x.storage.numel * _itemsize(x.storage.stype)
            budget[0] -= math.prod(x.shape) * _itemsize(x.storage.stype)
            if budget[0] <= 0:
                msg = (
                    f"{where}: the checkpoint's tensors repeat their storages more than "
                    f"{_VIEW_BUDGET} times over (overlapping views), refused"
                )
                raise TorchCheckpointError(msg)
            out: Any = _materialise(x, numpy)
        elif isinstance(x, _Storage):  # a storage saved on its own: its elements
            out = x.array.copy() if x.array is not None else None
        elif isinstance(x, dict):
            out = x
            done[key] = out
            for k in list(x):
                x[k] = walk(x[k])
            return out
        elif isinstance(x, list):
            done[key] = x
            x[:] = [walk(v) for v in x]
            return x
        elif isinstance(x, tuple):
            out = tuple(walk(v) for v in x)
        elif isinstance(x, set | frozenset):
            out = type(x)(walk(v) for v in x)
        else:
            return x
        done[key] = out
        return out

    try:
        return walk(obj)
    except RecursionError:
        msg = "the checkpoint's objects are nested too deeply"
        raise TorchCheckpointError(msg) from None
