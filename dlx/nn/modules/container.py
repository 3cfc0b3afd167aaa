"""Containers: ``Sequential`` (chains its children), ``ModuleList`` (holds them) and
``Residual`` (adds a skip connection around a block).

Their ``get_config()`` is empty: a serialiser rebuilds them from their named children
(``Sequential(*children)`` / ``Sequential(OrderedDict)``, ``ModuleList(children)``,
``Residual(**named_children)``).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from dlx._autograd import is_grad_enabled
from dlx.nn.functional import dense_chain
from dlx.nn.modules.module import Module


def _index(idx: Any, n: int, owner: str) -> int:
    try:
        i = operator.index(idx)
    except TypeError:
        msg = f"{owner} indices must be integers or slices, got {type(idx).__name__}"
        raise TypeError(msg) from None
    if not -n <= i < n:
        msg = f"index {i} is out of range for {owner} of length {n}"
        raise IndexError(msg)
    return i % n


def _spec(m: Module) -> tuple[Any, ...] | None:
    if m._forward_pre_hooks or m._forward_hooks:
        return None
    return m._fusion()


def _dense_run(
    modules: list[Module], i: int
) -> tuple[int, list[Any], list[Any], list[bool]] | None:
    """The run of fusable dense layers starting at ``modules[i]`` (``Linear`` layers, each
    optionally followed by a ``ReLU``, with identities in between), or None when it holds
    fewer than two dense layers. Layers say what they are through ``Module._fusion``."""
    spec = _spec(modules[i])
    if spec is None or spec[0] != "linear" or (is_grad_enabled() and spec[1].requires_grad):
        return None  # not a dense layer, or a training step (recorded layer by layer)
    weights, biases, relu = [spec[1]], [spec[2]], [False]
    j = i + 1
    while j < len(modules):
        spec = _spec(modules[j])
        if spec is None:
            break
        if spec[0] == "linear":
            weights.append(spec[1])
            biases.append(spec[2])
            relu.append(False)
        elif spec[0] == "relu" and not relu[-1]:
            relu[-1] = True
        elif spec[0] != "identity":
            break
        j += 1
    if len(weights) < 2:
        return None
    return j, weights, biases, relu


class Sequential(Module):
    """Modules applied in order: ``Sequential(m0, m1, ...)`` or ``Sequential(OrderedDict)``.

    Children are named ``"0"``, ``"1"``, ... (or by the dict's keys), so state_dict keys
    read ``0.weight``, as in PyTorch.
    """

    def __init__(self, *args: Any) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], Mapping):
            for key, module in args[0].items():
                self.add_module(key, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def __getitem__(self, idx: int | slice) -> Any:
        items = list(self._modules.items())
        if isinstance(idx, slice):
            return Sequential(dict(items[idx]))
        return items[_index(idx, len(items), "Sequential")][1]

    def __setitem__(self, idx: int, module: Module) -> None:
        keys = list(self._modules)
        setattr(self, keys[_index(idx, len(keys), "Sequential")], module)

    def __delitem__(self, idx: int | slice) -> None:
        keys = list(self._modules)
        doomed = (
            keys[idx] if isinstance(idx, slice) else [keys[_index(idx, len(keys), "Sequential")]]
        )
        for key in doomed:
            del self._modules[key]
        if all(k.isdigit() for k in self._modules):  # keep numbering contiguous
            modules = list(self._modules.values())
            self._modules.clear()
            for i, m in enumerate(modules):
                self._modules[str(i)] = m

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(m for m in self._modules.values() if m is not None)

    def append(self, module: Module) -> Sequential:
        """Add ``module`` at the end."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> Sequential:
        """Append every module of ``modules``."""
        for m in modules:
            self.append(m)
        return self

    def forward(self, input: Any) -> Any:
        modules = [m for m in self._modules.values() if m is not None]
        i, n = 0, len(modules)
        while i < n:
            run = _dense_run(modules, i)
            if run is not None:
                j, weights, biases, relu = run
                input = dense_chain(input, weights, biases, relu)
                i = j
                continue
            input = modules[i](input)
            i += 1
        return input

    def get_config(self) -> dict[str, Any]:
        """No constructor arguments besides the children."""
        return {}


class ModuleList(Module):
    """A list of modules whose parameters are registered (no forward of its own)."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx: int | slice) -> Any:
        values = [m for m in self._modules.values() if m is not None]
        if isinstance(idx, slice):
            return ModuleList(values[idx])
        return values[_index(idx, len(values), "ModuleList")]

    def __setitem__(self, idx: int, module: Module) -> None:
        setattr(self, str(_index(idx, len(self), "ModuleList")), module)

    def __delitem__(self, idx: int | slice) -> None:
        values = list(self._modules.values())
        if isinstance(idx, slice):
            del values[idx]
        else:
            del values[_index(idx, len(values), "ModuleList")]
        self._modules.clear()
        for i, m in enumerate(values):
            self._modules[str(i)] = m

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter([m for m in self._modules.values() if m is not None])

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:  # noqa: PYI034
        return self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        """Add ``module`` at the end."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Append every module of ``modules``."""
        if isinstance(modules, Module) and not isinstance(modules, ModuleList | Sequential):
            msg = f"ModuleList.extend needs an iterable of modules, got {type(modules).__name__}"
            raise TypeError(msg)
        for m in modules:
            self.append(m)
        return self

    def get_config(self) -> dict[str, Any]:
        """No constructor arguments besides the children."""
        return {}

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index``."""
        values = list(self._modules.values())
        values.insert(index, module)
        self._modules.clear()
        for i, m in enumerate(values):
            self.add_module(str(i), m)


class Residual(Module):
    """``y = block(x) + shortcut(x)``; the shortcut is the identity when None.

    The children are named ``block`` and ``shortcut`` (state_dict keys ``block.0.weight``,
    ``shortcut.weight`` ...). Use a shortcut (e.g. a 1x1 Conv2d) when the block changes
    the shape.
    """

    def __init__(self, block: Module, shortcut: Module | None = None) -> None:
        super().__init__()
        if not isinstance(block, Module):
            msg = f"Residual: `block` must be a Module, got {type(block).__name__}"
            raise TypeError(msg)
        self.block = block
        self.add_module("shortcut", shortcut)

    def forward(self, input: Any) -> Any:
        out = self.block(input)
        skip = input if self.shortcut is None else self.shortcut(input)
        if tuple(out.shape) != tuple(skip.shape):
            msg = (
                f"Residual: the block's output of shape {tuple(out.shape)} cannot be added to "
                f"the shortcut's output of shape {tuple(skip.shape)} (input shape "
                f"{tuple(input.shape)}); give a `shortcut` that matches the block"
            )
            raise ValueError(msg)
        return out + skip

    def get_config(self) -> dict[str, Any]:
        """No constructor arguments besides the children."""
        return {}


class ModuleDict(Module):
    """An ordered dict of modules whose parameters are registered under their keys (no
    forward of its own); state-dict keys are ``<key>.<parameter>`` as in PyTorch."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        m = self._modules[key]
        if m is None:
            raise KeyError(key)
        return m

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> Any:
        """The keys, in insertion order."""
        return self._modules.keys()

    def values(self) -> Any:
        """The modules, in insertion order."""
        return self._modules.values()

    def items(self) -> Any:
        """``(key, module)`` pairs, in insertion order."""
        return self._modules.items()

    def pop(self, key: str) -> Module | None:
        """Remove ``key`` and return its module."""
        return self._modules.pop(key)

    def clear(self) -> None:
        """Remove every module."""
        self._modules.clear()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add (or replace) modules from a mapping or from ``(key, module)`` pairs."""
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for item in pairs:
            if not (isinstance(item, tuple | list) and len(item) == 2):
                msg = f"ModuleDict.update needs (key, module) pairs, got {item!r}"
                raise TypeError(msg)
            key, module = item
            if not isinstance(key, str):
                msg = f"ModuleDict keys must be str, got {type(key).__name__}"
                raise TypeError(msg)
            self.add_module(key, module)

    def get_config(self) -> dict[str, Any]:
        """No constructor arguments besides the children."""
        return {}
