"""Crafting PyTorch checkpoint files without PyTorch (for the loader's hostile-file tests).

A pickle is written with the pure-Python pickler, where :class:`Global` becomes a GLOBAL
opcode naming any ``module.name`` (importable or not), :class:`Call` a REDUCE of such a
global, and :class:`StorageRef` a persistent id ``('storage', type, key, 'cpu', numel)``,
as ``torch.save`` writes them. :func:`zip_checkpoint` lays the pickle and the storages
out as ``torch.save``'s zip format does.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from typing import Any


class Global:
    """A reference to ``module.name``, pickled as a GLOBAL opcode (never imported)."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self, *args: Any) -> Call:
        return Call(self, *args)


class Call:
    """``func(*args)`` at unpickling time (a REDUCE opcode)."""

    def __init__(self, func: Global, *args: Any) -> None:
        self.func, self.args = func, args


class StorageRef:
    """A storage by persistent id, as torch.save writes it."""

    def __init__(self, key: str, numel: int, stype: Any = "FloatStorage") -> None:
        self.key, self.numel = key, numel
        self.stype = Global("torch", stype) if isinstance(stype, str) else stype


class _Writer(pickle._Pickler):  # type: ignore[name-defined,misc]
    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, StorageRef):
            return ("storage", obj.stype, obj.key, "cpu", obj.numel)
        return None

    def save(self, obj: Any, save_persistent_id: bool = True) -> None:
        if isinstance(obj, Global):
            self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
            return
        if isinstance(obj, Call):
            self.save(obj.func)
            self.save(obj.args)
            self.write(pickle.REDUCE)
            return
        super().save(obj, save_persistent_id)


def dumps(obj: Any) -> bytes:
    buf = io.BytesIO()
    _Writer(buf, protocol=2).dump(obj)
    return buf.getvalue()


REBUILD = Global("torch._utils", "_rebuild_tensor_v2")
PARAMETER = Global("torch._utils", "_rebuild_parameter")
ORDERED = Global("collections", "OrderedDict")


def tensor(storage: StorageRef, size: tuple[int, ...], stride: tuple[int, ...], offset: int = 0):
    """``_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())``."""
    return REBUILD(storage, offset, size, stride, False, ORDERED())


def zip_checkpoint(
    pkl: bytes,
    storages: dict[str, bytes],
    *,
    prefix: str = "archive",
    byteorder: str | None = "little",
    compress: int = zipfile.ZIP_STORED,
    extra: dict[str, bytes] | None = None,
) -> bytes:
    """The bytes of a zip checkpoint holding ``pkl`` and the raw ``storages``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compress) as zf:
        zf.writestr(f"{prefix}/data.pkl", pkl)
        if byteorder is not None:
            zf.writestr(f"{prefix}/byteorder", byteorder)
        for key, data in storages.items():
            zf.writestr(f"{prefix}/data/{key}", data)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
        zf.writestr(f"{prefix}/version", "3\n")
    return buf.getvalue()
