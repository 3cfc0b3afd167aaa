"""The restricted unpickler behind ``dlx.load_torch``: the allowed globals and their stand-ins.

A checkpoint's pickle may name only the tensor-rebuild functions, storage types and
containers PyTorch's own ``weights_only=True`` loader allows for plain tensors; each resolves
to a stand-in defined here (nothing from ``torch`` or the file is imported or called), and
any other global raises :class:`UnsafeCheckpointError` naming it. ``dlx/io/pytorch.py``
reads the containers (zip, legacy) and builds the tensors.
"""

from __future__ import annotations

import collections
import math
import pickle
import re
from collections.abc import Callable
from typing import IO, Any, ClassVar

import numpy as np

from dlx.io._header import SafetensorsError

MAX_PICKLE_BYTES = 256 << 20  # the pickled object alone (tensor data is stored apart)
MAX_RATIO = 100  # uncompressed / compressed size of a deflated member (a zip bomb beyond)
_MAX_NDIM = 64
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_VIEW_BUDGET = 8  # bytes of all tensors built / bytes of all storages
_KEY = re.compile(r"[A-Za-z0-9_.-]{1,128}")


class TorchCheckpointError(SafetensorsError):
    """A PyTorch checkpoint is malformed, truncated, or uses a feature dlx does not read.

    A subclass of :class:`dlx.io.SafetensorsError` (a ``ValueError``), so code that
    catches dlx's bad-file error catches this one too.
    """


class UnsafeCheckpointError(TorchCheckpointError):
    """A checkpoint's pickle names a global outside the allowed tensor/container set.

    Raised before the global is used: nothing named by the file is imported or called.
    """


# -- stand-ins for the allowed globals --------------------------------------------------------
class _StorageType:
    """Stand-in for ``torch.FloatStorage`` ...: the stored NumPy dtype of its elements."""

    __slots__ = ("name", "stored")

    def __init__(self, name: str, stored: str) -> None:
        self.name, self.stored = name, stored

    def __reduce__(self) -> Any:  # never pickled again
        raise TypeError(self.name)


_BF16 = "bf16"  # stored as the upper 16 bits of a float32
_STORAGE_TYPES = {
    "DoubleStorage": "f8",
    "FloatStorage": "f4",
    "HalfStorage": "f2",
    "BFloat16Storage": _BF16,
    "LongStorage": "i8",
    "IntStorage": "i4",
    "ShortStorage": "i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}
_DTYPES = {  # torch dtype name -> NumPy dtype (for torch.float32 ... inside a checkpoint)
    "float64": "f8", "double": "f8", "float32": "f4", "float": "f4", "float16": "f2",
    "half": "f2", "bfloat16": "f4", "int64": "i8", "long": "i8", "int32": "i4", "int": "i4",
    "int16": "i2", "short": "i2", "int8": "i1", "uint8": "u1", "bool": "?",
}  # fmt: skip
_UNTYPED = _StorageType("UntypedStorage", "u1")


class _Storage:
    """One storage named by the pickle: its key, element type and element count."""

    __slots__ = ("array", "key", "numel", "stype", "views")

    def __init__(self, key: str, stype: _StorageType, numel: int) -> None:
        self.key, self.stype, self.numel = key, stype, numel
        self.array: np.ndarray | None = None
        self.views = 0  # tensors built on it (one whole-storage tensor takes the array itself)


class _Pending:
    """A tensor to build once its storage has been read."""

    __slots__ = ("offset", "parameter", "requires_grad", "shape", "storage", "strides")

    def __init__(
        self,
        storage: _Storage,
        offset: int,
        shape: tuple[int, ...],
        strides: tuple[int, ...],
        requires_grad: bool,
    ) -> None:
        self.storage, self.offset, self.shape, self.strides = storage, offset, shape, strides
        self.requires_grad, self.parameter = requires_grad, False


def _int(value: Any, what: str) -> int:
    if type(value) is not int:
        msg = f"{what} must be an int, got {type(value).__name__}"
        raise TorchCheckpointError(msg)
    return value


def _ints(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, tuple | list) or len(value) > _MAX_NDIM:
        msg = f"{what} must be a tuple of at most {_MAX_NDIM} ints, got {type(value).__name__}"
        raise TorchCheckpointError(msg)
    out = tuple(_int(v, what) for v in value)
    if any(v < 0 or v >= 1 << 62 for v in out):
        msg = f"{what} must hold non-negative ints below 2**62, got {out}"
        raise TorchCheckpointError(msg)
    return out


def _rebuild_tensor(
    storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any = False, *_: Any
) -> _Pending:
    """Stand-in for ``torch._utils._rebuild_tensor(_v2)``: check the view, build it later."""
    if not isinstance(storage, _Storage):
        msg = (
            f"_rebuild_tensor_v2: the storage must come from the file, got {type(storage).__name__}"
        )
        raise TorchCheckpointError(msg)
    shape, strides = _ints(size, "a tensor's size"), _ints(stride, "a tensor's stride")
    offset = _int(offset, "a tensor's storage offset")
    if len(shape) != len(strides) or offset < 0:
        msg = f"a tensor's size {shape}, stride {strides} and offset {offset} do not fit together"
        raise TorchCheckpointError(msg)
    n = math.prod(shape)
    if n:
        last = offset + sum((d - 1) * s for d, s in zip(shape, strides, strict=True))
        if last >= storage.numel:
            msg = (
                f"a tensor of size {shape}, stride {strides} at offset {offset} reaches element "
                f"{last} of storage {storage.key!r}, which holds {storage.numel}"
            )
            raise TorchCheckpointError(msg)
        if n > storage.numel:
            msg = (
                f"a tensor of size {shape} has more elements than its storage {storage.key!r} "
                f"({storage.numel}): an expanded tensor; save t.contiguous() instead"
            )
            raise TorchCheckpointError(msg)
    storage.views += 1
    return _Pending(storage, offset, shape, strides, bool(requires_grad))


def _rebuild_parameter(data: Any, requires_grad: Any = True, *_: Any) -> _Pending:
    """Stand-in for ``torch._utils._rebuild_parameter(_with_state)``."""
    if not isinstance(data, _Pending):
        msg = f"_rebuild_parameter: expected a tensor, got {type(data).__name__}"
        raise TorchCheckpointError(msg)
    data.requires_grad, data.parameter = bool(requires_grad), True
    return data


def _rebuild_from_type_v2(func: Any, new_type: Any, args: Any, state: Any = None) -> Any:
    """Stand-in for ``torch._tensor._rebuild_from_type_v2`` (tensor and Parameter only)."""
    if func not in (_rebuild_tensor, _rebuild_parameter) or not isinstance(args, tuple):
        msg = "_rebuild_from_type_v2 may only rebuild a tensor"
        raise TorchCheckpointError(msg)
    out = func(*args)
    if new_type is _PARAMETER_TYPE:
        out.parameter = True
    return out


def _size(dims: Any = ()) -> tuple[int, ...]:
    return _ints(dims, "torch.Size")


def _device(*args: Any) -> str:
    return ":".join(str(a) for a in args)


def _codecs_encode(text: Any, encoding: Any = "utf-8") -> bytes:
    """Stand-in for ``_codecs.encode``, which protocol-2 pickles use for bytes."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8"):
        msg = "_codecs.encode may only encode a str as latin1 or utf-8"
        raise TorchCheckpointError(msg)
    return text.encode(encoding)


class _ParameterType:
    """Stand-in for ``torch.nn.parameter.Parameter`` / ``torch.Tensor`` as a type argument."""

    __slots__ = ()


_PARAMETER_TYPE = _ParameterType()
_TENSOR_TYPE = _ParameterType()

_ALLOWED: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch.nn.parameter", "Parameter"): _PARAMETER_TYPE,
    ("torch", "Tensor"): _TENSOR_TYPE,
    ("torch", "Size"): _size,
    ("torch", "device"): _device,
    ("torch.storage", "UntypedStorage"): _UNTYPED,
    ("torch", "UntypedStorage"): _UNTYPED,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "complex"): complex,
    ("_codecs", "encode"): _codecs_encode,
}
_ALLOWED.update({("torch", k): _StorageType(k, v) for k, v in _STORAGE_TYPES.items()})
_ALLOWED.update({("torch", k): np.dtype(v) for k, v in _DTYPES.items()})


class _Unpickler(pickle._Unpickler):  # type: ignore[name-defined,misc]
    """The pure-Python unpickler with every global, persistent id and BUILD restricted.

    The pure-Python class is used because its opcode table can be narrowed: BUILD (which
    sets attributes or calls ``__setstate__``) is allowed only on dicts, where the state
    (a state dict's ``_metadata``) is dropped.
    """

    dispatch: ClassVar[dict[int, Any]] = dict(pickle._Unpickler.dispatch)  # type: ignore[attr-defined]

    def __init__(self, f: IO[bytes], persistent: Callable[[Any], Any], where: str) -> None:
        super().__init__(f, encoding="utf-8")
        self._persistent, self._where = persistent, where

    def find_class(self, module: str, name: str) -> Any:
        if module == "__builtin__":  # protocol 2 names builtins by their Python 2 module
            module = "builtins"
        found = _ALLOWED.get((module, name))
        if found is None:
            hint = ""
            if module.startswith("torch.nn.modules") or module == "__main__":
                hint = " (a whole model was saved: save model.state_dict() instead)"
            msg = (
                f"{self._where}: refused to load the global {module}.{name}{hint}; a checkpoint "
                "read by dlx may hold only tensors, numbers, strings and containers"
            )
            raise UnsafeCheckpointError(msg)
        return found

    def persistent_load(self, pid: Any) -> Any:
        return self._persistent(pid)

    def _load_build(self) -> None:
        stack: list[Any] = self.stack  # type: ignore[attr-defined]
        state = stack.pop()
        inst = stack[-1]
        if not isinstance(inst, dict) or not isinstance(state, dict | type(None)):
            msg = f"{self._where}: the pickle sets the state of a {type(inst).__name__}, refused"
            raise UnsafeCheckpointError(msg)

    def _refuse_buffers(self) -> None:
        # BYTEARRAY8 allocates its declared length before reading it (a memory bomb);
        # out-of-band buffers have no place in a file. torch.save writes neither.
        msg = f"{self._where}: the pickle uses protocol-5 buffers, which checkpoints do not hold"
        raise TorchCheckpointError(msg)

    dispatch[pickle.BUILD[0]] = _load_build
    for _op in (pickle.BYTEARRAY8, pickle.NEXT_BUFFER, pickle.READONLY_BUFFER):
        dispatch[_op[0]] = _refuse_buffers
    del _op


class _Bounded:
    """A file's ``read``/``readline`` that never ask for more bytes than remain in it."""

    def __init__(self, f: IO[bytes], size: int) -> None:
        self.f, self.size = f, size

    def read(self, n: int = -1) -> bytes:
        left = max(self.size - self.f.tell(), 0)
        return self.f.read(left if n is None or n < 0 else min(n, left))

    def readline(self, limit: int = -1) -> bytes:
        left = max(self.size - self.f.tell(), 0)
        return self.f.readline(left if limit < 0 else min(limit, left))

    def readinto(self, b: Any) -> int:
        return self.f.readinto(b)  # type: ignore[attr-defined,no-any-return]
