"""``ParameterList`` and ``ParameterDict``: parameters held by position or by key.

As in PyTorch, entries are registered under ``"0"``, ``"1"`` ... (list) or their keys
(dict), so state-dict keys are ``<name>.<index or key>``. Values may be Parameters (kept
as they are), Tensors or arrays (wrapped in a Parameter sharing their memory). For model
files the config records each entry's shape and dtype (``{"shape": [...], "dtype":
"float32", "requires_grad": true}``); the constructor accepts such a spec and allocates a
zero Parameter that ``dlx.load`` then fills from the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from dlx._validation import as_int
from dlx.nn.modules.module import Module
from dlx.nn.parameter import Parameter
from dlx.tensor import Tensor

__all__ = ["ParameterDict", "ParameterList"]

_SPEC_KEYS = {"shape", "dtype", "requires_grad"}


def _as_parameter(value: Any, where: str) -> Parameter:
    if isinstance(value, Parameter):
        return value
    if isinstance(value, Mapping):
        if not set(value) <= _SPEC_KEYS or "shape" not in value:
            msg = f"{where}: a parameter spec has keys {sorted(_SPEC_KEYS)}, got {sorted(value)}"
            raise ValueError(msg)
        shape = tuple(as_int(d, f"{where} shape") for d in value["shape"])
        if any(d < 0 for d in shape):
            msg = f"{where}: shape must be non-negative, got {shape}"
            raise ValueError(msg)
        dtype = np.dtype(value.get("dtype", "float32"))
        return Parameter(np.zeros(shape, dtype), bool(value.get("requires_grad", True)))
    if isinstance(value, Tensor | np.ndarray):
        return Parameter(value)
    msg = f"{where}: expected a Parameter, Tensor or array, got {type(value).__name__}"
    raise TypeError(msg)


def _spec(p: Parameter) -> dict[str, Any]:
    return {"shape": list(p.shape), "dtype": str(p.dtype), "requires_grad": p.requires_grad}


class ParameterList(Module):
    """A list of parameters, registered as ``"0"``, ``"1"``, ... (PyTorch's ParameterList)."""

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        if values is not None:
            self.extend(values)

    def _index(self, idx: Any) -> str:
        n = len(self)
        i = as_int(idx, "index")
        if not -n <= i < n:
            msg = f"ParameterList index {i} is out of range for length {n}"
            raise IndexError(msg)
        return str(i % n)

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, slice):
            return ParameterList(list(self)[idx])
        return self._parameters[self._index(idx)]

    def __setitem__(self, idx: Any, value: Any) -> None:
        key = self._index(idx)
        self.register_parameter(key, _as_parameter(value, f"ParameterList[{key}]"))

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._parameters.values())

    def append(self, value: Any) -> ParameterList:
        """Add one parameter at the end."""
        key = str(len(self))
        self.register_parameter(key, _as_parameter(value, f"ParameterList[{key}]"))
        return self

    def extend(self, values: Iterable[Any]) -> ParameterList:
        """Add parameters at the end, in order."""
        if isinstance(values, Tensor | np.ndarray | Mapping) or not isinstance(values, Iterable):
            msg = (
                f"ParameterList.extend needs an iterable of parameters, got {type(values).__name__}"
            )
            raise TypeError(msg)
        for v in values:
            self.append(v)
        return self

    def get_config(self) -> dict[str, Any]:
        """Each entry's shape, dtype and requires_grad (the values are in the state dict)."""
        return {"values": [_spec(p) for p in self]}

    def extra_repr(self) -> str:
        return ", ".join(f"({i}): {tuple(p.shape)} {p.dtype}" for i, p in enumerate(self))


class ParameterDict(Module):
    """An ordered dict of parameters registered under their keys (PyTorch's ParameterDict)."""

    def __init__(self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Any:
        return self._parameters[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            msg = f"ParameterDict keys must be str, got {type(key).__name__}"
            raise TypeError(msg)
        self.register_parameter(key, _as_parameter(value, f"ParameterDict[{key!r}]"))

    def __delitem__(self, key: str) -> None:
        del self._parameters[key]

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[str]:
        return iter(self._parameters)

    def __contains__(self, key: object) -> bool:
        return key in self._parameters

    def keys(self) -> Any:
        """The keys, in insertion order."""
        return self._parameters.keys()

    def values(self) -> Any:
        """The parameters, in insertion order."""
        return self._parameters.values()

    def items(self) -> Any:
        """``(key, parameter)`` pairs, in insertion order."""
        return self._parameters.items()

    def update(self, parameters: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> None:
        """Add (or replace) parameters from a mapping or from ``(key, value)`` pairs."""
        pairs = parameters.items() if isinstance(parameters, Mapping) else parameters
        for item in pairs:
            if not (isinstance(item, tuple | list) and len(item) == 2):
                msg = f"ParameterDict.update needs (key, parameter) pairs, got {item!r}"
                raise TypeError(msg)
            self[item[0]] = item[1]

    def get_config(self) -> dict[str, Any]:
        """Each entry's shape, dtype and requires_grad, by key."""
        return {"parameters": {k: _spec(p) for k, p in self.items()}}

    def extra_repr(self) -> str:
        return ", ".join(f"({k}): {tuple(p.shape)} {p.dtype}" for k, p in self.items())
