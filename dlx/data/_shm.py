"""Shared memory for DataLoader workers: batch slots, and large arrays shared once per pool.

Batches: each worker owns ``prefetch_factor`` slots, one POSIX shared-memory segment per
slot (``multiprocessing.shared_memory``), created on first use and replaced by a larger
one when a batch does not fit. The worker copies the batch's arrays into the slot and
sends only a small pickled header (structure, dtypes, shapes, offsets); the main process
copies the arrays out and hands the slot back with the next task, so a slot is never
read and written at once and the user's batch never aliases shared memory.

Names are deterministic, ``<prefix>w<worker>_<generation>`` with a per-pool prefix that
holds the main process's pid, so the main process can always find and unlink every
segment a dead worker may have created (see :func:`unlink_all`).

Datasets: :func:`dumps_sharing` pickles the worker payload (dataset, transforms, ...)
with every large array moved to a shared segment, so a ``TensorDataset`` of images is
copied once per pool, not pickled into every worker; workers see read-only views.
"""

from __future__ import annotations

import contextlib
import io
import mmap
import os
import pickle
import secrets
from multiprocessing.shared_memory import SharedMemory
from typing import Any, Literal

import numpy as np

_ALIGN = 64  # bytes; every array in a slot starts on a cache line
_SHARE_MIN_BYTES = 1 << 16  # smaller arrays are pickled with the payload
_SHM_DIR = "/dev/shm"  # where Linux lists POSIX shared memory (used for a final sweep)


def new_prefix() -> str:
    """A unique per-pool name prefix (pid + random token; short enough for macOS's 31)."""
    return f"dlx{os.getpid()}_{secrets.token_hex(3)}_"


def slot_name(prefix: str, worker_id: int, generation: int) -> str:
    return f"{prefix}w{worker_id}_{generation}"


# ------------------------------------------------------------------ batch structure


def encode(batch: Any, leaves: list[np.ndarray]) -> Any:
    """The header spec of ``batch``; its arrays are appended to ``leaves`` (C-contiguous)."""
    from dlx.tensor import Tensor

    if isinstance(batch, np.ndarray) and not batch.dtype.hasobject:
        leaves.append(np.ascontiguousarray(batch))
        return ("a", batch.dtype, batch.shape)
    if isinstance(batch, Tensor):
        arr = batch.numpy()
        leaves.append(np.ascontiguousarray(arr))
        return ("T", arr.dtype, arr.shape)
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return ("n", type(batch), [encode(v, leaves) for v in batch])
    if type(batch) is tuple:
        return ("t", [encode(v, leaves) for v in batch])
    if type(batch) is list:
        return ("l", [encode(v, leaves) for v in batch])
    if type(batch) is dict:
        return ("d", [(k, encode(v, leaves)) for k, v in batch.items()])
    return ("o", batch)  # anything else travels pickled in the header


def layout(leaves: list[np.ndarray]) -> tuple[list[int], int]:
    """Aligned byte offsets of the leaves in a slot, and the bytes the slot needs."""
    offsets, end = [], 0
    for a in leaves:
        offsets.append(end)
        end += -(-a.nbytes // _ALIGN) * _ALIGN
    return offsets, end


def decode(spec: Any, buf: memoryview | None, offsets: list[int]) -> Any:
    """Rebuild a batch from its spec, copying every array out of ``buf``."""
    pos = iter(offsets)
    return _decode(spec, buf, pos)


def _decode(spec: Any, buf: memoryview | None, pos: Any) -> Any:
    kind = spec[0]
    if kind in ("a", "T"):
        _, dtype, shape = spec
        off = next(pos)
        if buf is None or int(np.prod(shape)) == 0:
            arr = np.empty(shape, dtype)
        else:
            arr = np.ndarray(shape, dtype, buffer=buf, offset=off).copy()
        if kind == "T":
            from dlx import from_numpy

            return from_numpy(arr)
        return arr
    if kind == "t":
        return tuple(_decode(s, buf, pos) for s in spec[1])
    if kind == "l":
        return [_decode(s, buf, pos) for s in spec[1]]
    if kind == "d":
        return {k: _decode(s, buf, pos) for k, s in spec[1]}
    if kind == "n":
        return spec[1](*(_decode(s, buf, pos) for s in spec[2]))
    return spec[1]


class SlotWriter:
    """Worker side: the worker's slots; ``write`` puts a batch in one and returns its header."""

    def __init__(self, prefix: str, worker_id: int, slots: int) -> None:
        self.prefix, self.worker_id = prefix, worker_id
        self._segments: list[tuple[SharedMemory, int] | None] = [None] * slots
        self._generation = 0

    def write(self, slot: int, batch: Any) -> tuple[str | None, int, Any, list[int]]:
        """(segment name or None, its generation, spec, offsets) for the batch now in ``slot``."""
        leaves: list[np.ndarray] = []
        spec = encode(batch, leaves)
        offsets, need = layout(leaves)
        if need == 0:
            return None, -1, spec, offsets
        current = self._segments[slot]
        if current is None or current[0].size < need:
            size = need if current is None else need + need // 4  # grow with headroom
            size = -(-size // mmap.PAGESIZE) * mmap.PAGESIZE
            gen = self._generation
            self._generation += 1
            new = SharedMemory(slot_name(self.prefix, self.worker_id, gen), create=True, size=size)
            if current is not None:  # the main process is done with it: it sent this task
                current[0].close()
                current[0].unlink()
            self._segments[slot] = current = (new, gen)
        seg, gen = current
        for a, off in zip(leaves, offsets, strict=True):
            if a.nbytes:
                np.copyto(np.ndarray(a.shape, a.dtype, buffer=seg.buf, offset=off), a)
        return seg.name, gen, spec, offsets


class SlotReader:
    """Main side: attaches each worker's current slot segments and copies batches out."""

    def __init__(self) -> None:
        self._open: dict[tuple[int, int], SharedMemory] = {}
        self.max_generation: dict[int, int] = {}

    def read(self, worker_id: int, slot: int, header: tuple[Any, ...]) -> Any:
        name, gen, spec, offsets = header
        if name is None:
            return decode(spec, None, offsets)
        self.max_generation[worker_id] = max(gen, self.max_generation.get(worker_id, -1))
        seg = self._open.get((worker_id, slot))
        if seg is None or seg.name != name:
            if seg is not None:
                seg.close()
            seg = SharedMemory(name)
            self._open[(worker_id, slot)] = seg
        return decode(spec, seg.buf, offsets)

    def note(self, worker_id: int, header: tuple[Any, ...]) -> None:
        """Record a header's generation without reading it (a discarded batch)."""
        if header[0] is not None:
            self.max_generation[worker_id] = max(header[1], self.max_generation.get(worker_id, -1))

    def close(self) -> None:
        for seg in self._open.values():
            seg.close()
        self._open.clear()


# ------------------------------------------------------------------ clean-up


def unlink(name: str) -> None:
    """Unlink segment ``name`` if it exists (attaching first keeps the resource tracker's
    bookkeeping balanced: the creator registered it, ``unlink`` unregisters it)."""
    try:
        seg = SharedMemory(name)
    except (FileNotFoundError, OSError):
        return
    seg.close()
    with contextlib.suppress(FileNotFoundError):  # a racing unlink (a growing slot) won
        seg.unlink()


def unlink_all(prefix: str, num_workers: int, max_generation: dict[int, int]) -> None:
    """Unlink every slot segment the pool's workers can have created.

    A worker creates generation ``g + 1`` only after announcing ``g`` (one new segment per
    batch at most), so generations up to ``max_generation + 1`` cover a worker killed
    between creating a segment and reporting it. On Linux, ``/dev/shm`` is swept for the
    prefix as well.
    """
    for w in range(num_workers):
        for g in range(max_generation.get(w, -1) + 2):
            unlink(slot_name(prefix, w, g))
    if os.path.isdir(_SHM_DIR):
        for entry in os.listdir(_SHM_DIR):
            if entry.startswith(prefix):
                unlink(entry)


# ------------------------------------------------------------------ sharing the payload


class _SharingPickler(pickle.Pickler):
    """Pickles large arrays as references to shared segments it creates."""

    def __init__(self, file: io.BytesIO, prefix: str) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.prefix = prefix
        self.segments: list[SharedMemory] = []

    def reducer_override(self, obj: Any) -> Any:
        if not isinstance(obj, np.ndarray) or obj.dtype.hasobject:
            return NotImplemented
        if isinstance(obj, np.memmap) and isinstance(obj.base, mmap.mmap) and obj.filename:
            order = "F" if obj.flags.f_contiguous and not obj.flags.c_contiguous else "C"
            return _open_memmap, (obj.filename, obj.dtype, obj.shape, obj.offset, order)
        if obj.nbytes < _SHARE_MIN_BYTES:
            return NotImplemented
        name = f"{self.prefix}d{len(self.segments)}"
        seg = SharedMemory(name, create=True, size=obj.nbytes)
        self.segments.append(seg)
        np.ndarray(obj.shape, obj.dtype, buffer=seg.buf)[...] = obj
        return _attach_array, (name, obj.dtype, obj.shape)


def dumps_sharing(obj: Any, prefix: str) -> tuple[bytes, list[SharedMemory]]:
    """Pickle ``obj`` with its large arrays in new shared segments (returned, still open)."""
    buf = io.BytesIO()
    pickler = _SharingPickler(buf, prefix)
    try:
        pickler.dump(obj)
    except BaseException:
        release(pickler.segments)
        raise
    return buf.getvalue(), pickler.segments


def release(segments: list[SharedMemory]) -> None:
    """Close and unlink the payload's segments (the workers keep their own mappings)."""
    for seg in segments:
        seg.close()
        with contextlib.suppress(FileNotFoundError):
            seg.unlink()
    segments.clear()


# A worker's payload mappings, kept until it exits. They must never be closed while a view
# exists: NumPy holds the memoryview object, not a buffer export, so SharedMemory.close()
# would unmap the memory under the array (a segfault on the next read). For the same
# reason the main process copies every batch out of its slot before anything is closed.
_ATTACHED: list[SharedMemory] = []


def _attach_array(name: str, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray:
    seg = SharedMemory(name)
    _ATTACHED.append(seg)
    arr = np.ndarray(shape, dtype, buffer=seg.buf)
    arr.flags.writeable = False
    return arr


def _open_memmap(
    filename: str, dtype: np.dtype, shape: tuple[int, ...], offset: int, order: Literal["C", "F"]
) -> np.memmap:
    return np.memmap(filename, dtype=dtype, mode="r", offset=offset, shape=shape, order=order)
