"""Model files: weights as safetensors plus the architecture as JSON metadata.

``save(model, path)`` writes the model's ``state_dict()`` (PyTorch key names, buffers
included) and, in the metadata key ``"dlx"``::

    {"format": "dlx-model", "version": 1,
     "arch": {"class": "Sequential", "config": {}, "children": {"0": {...}, ...}}}

Each module contributes ``{"class": name, "config": module.get_config()}`` and, when it
has submodules, ``"children"`` in order. ``load(path)`` rebuilds the model from a registry
of the Module classes defined in ``dlx.nn`` (looked up by name, nothing is imported,
evaluated or unpickled) and loads the weights with ``strict=True``. Before any layer is
constructed, every layer's parameter shapes are computed from its config
(:mod:`dlx.io._shapes`) and compared with the tensors listed in the file's header, so a
hostile architecture cannot make ``load`` allocate more than the file holds.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from dlx.io._shapes import Shapes, state_shapes
from dlx.io._tree import decode, encode
from dlx.io.safetensors import Index, SafetensorsError, load_file, read_index, save_file

FORMAT = "dlx-model"
STATE_FORMAT = "dlx-state-dict"
OBJECT_FORMAT = "dlx-object"  # nested: {"model": sd, "optimizer": ..., "epoch": 3}
VERSION = 1
META_KEY = "dlx"
MAX_DEPTH = 64  # nesting of the architecture JSON
MAX_MODULES = 100_000


def save(
    model: Any,
    path: str | os.PathLike[str],
    input_shape: tuple[int, ...] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Save ``model`` (architecture and weights), or a state dict, to a safetensors file.

    ``model`` is either a model whose modules are all dlx classes with ``get_config()``
    (:func:`load` rebuilds it), or a mapping of str to tensors or arrays, such as
    ``model.state_dict()`` (what ``torch.save(model.state_dict(), path)`` users write;
    :func:`load` returns it as a dict of Tensors, in the same key order), or a nested
    checkpoint dict such as ``{"model": model.state_dict(), "optimizer":
    opt.state_dict(), "epoch": 3}``: dicts, lists and tuples of tensors, arrays, numbers,
    strings and None (:func:`load` returns the same structure with Tensors; the
    structure is JSON metadata, nothing is pickled). For a model of your own classes save
    its state dict. ``input_shape`` (per sample, without the batch)
    is stored for ``dlx summary``. ``metadata`` adds string entries to the file's
    safetensors metadata (read them with :func:`dlx.io.read_metadata`); the key ``"dlx"``
    is reserved. The file is written atomically.
    """
    extra = dict(metadata or {})
    if META_KEY in extra or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in extra.items()
    ):
        msg = f"`metadata` must map str to str without the reserved key {META_KEY!r}"
        raise ValueError(msg)
    if isinstance(model, Mapping):
        if input_shape is not None:
            msg = "`input_shape` is stored with a model, not with a state dict"
            raise ValueError(msg)
        flat = _state_arrays(model)
        if flat is not None:
            info: dict[str, Any] = {"format": STATE_FORMAT, "version": VERSION, "keys": list(flat)}
        else:  # a nested checkpoint: tensors under generated names, the structure as JSON
            flat = {}
            info = {"format": OBJECT_FORMAT, "version": VERSION, "tree": encode(model, flat)}
        save_file(flat, path, metadata={**extra, META_KEY: json.dumps(info)})
        return
    arch = _arch(model, "model", 0)
    meta: dict[str, Any] = {"format": FORMAT, "version": VERSION, "arch": arch}
    if input_shape is not None:
        shape = [int(d) for d in input_shape]
        if any(d <= 0 for d in shape):
            msg = f"`input_shape` must hold positive ints, got {tuple(input_shape)}"
            raise ValueError(msg)
        meta["input_shape"] = shape
    tensors = {k: np.asarray(v) for k, v in model.state_dict().items()}
    save_file(tensors, path, metadata={**extra, META_KEY: json.dumps(meta)})


def load(path: str | os.PathLike[str], map_location: Any = None, **kwargs: Any) -> Any:
    """Read a file written by :func:`save`: the rebuilt model, or the saved state dict.

    ``map_location`` (the CPU) and ``weights_only=True`` are accepted as in ``torch.load``,
    so a ported ``torch.load(path, map_location="cpu")`` runs. A model file gives the model
    with its weights. A state-dict file (``dlx.save`` of a
    mapping) gives an ``OrderedDict`` of ``dlx.Tensor``, in the saved key order, for
    ``model.load_state_dict``; a nested checkpoint gives its dicts, lists and values back. Other safetensors files (``safetensors.torch.save_file``)
    are read by :func:`load_state_dict_file`. A PyTorch
    checkpoint (``torch.save``) is refused with a message that names
    :func:`dlx.load_torch`, which reads it.

    Raises
    ------
    dlx.io.SafetensorsError
        The file is not valid safetensors (bad header, offsets, dtype ...); the message
        names the file's format when it is another one (a PyTorch zip or pickle ...).
    ValueError
        The architecture is invalid: unknown layer class, bad config keys or values, or
        weights that do not match it (the message names the key). All of this is checked
        against the file's header before any layer or weight is allocated.
    """
    from dlx._device import check_device

    check_device(map_location, "map_location")  # torch.load(p, map_location="cpu") ported
    unknown = set(kwargs) - {"weights_only"}
    if unknown or kwargs.get("weights_only") not in (None, True):
        msg = (
            "dlx.load takes `map_location` (the CPU) and `weights_only=True` from "
            f"torch.load's arguments, got {kwargs}"
        )
        raise TypeError(msg) if unknown else ValueError(msg)
    index, meta = read_index(path)
    if META_KEY not in meta:
        msg = (
            f"{os.fspath(path)!r} has no dlx metadata (a plain safetensors state dict); read "
            "its tensors with dlx.load_state_dict_file(path), or load them into a model you "
            "build with dlx.load_state_dict_file(path, model)"
        )
        raise ValueError(msg)
    try:
        info = json.loads(meta[META_KEY])
    except (json.JSONDecodeError, RecursionError) as exc:
        msg = f"model architecture metadata is not valid JSON: {exc}"
        raise SafetensorsError(msg) from None
    if isinstance(info, dict) and info.get("format") == STATE_FORMAT:
        return _state_dict(load_file(path), info.get("keys"))
    if isinstance(info, dict) and info.get("format") == OBJECT_FORMAT:
        from dlx.tensor import Tensor

        if info.get("version") != VERSION:
            msg = (
                f"unsupported dlx object version {info.get('version')!r} (this dlx reads {VERSION})"
            )
            raise ValueError(msg)
        return decode(info.get("tree"), {k: Tensor(v) for k, v in load_file(path).items()})
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        msg = f"model metadata must have format {FORMAT!r} or {STATE_FORMAT!r}"
        raise ValueError(msg)
    if info.get("version") != VERSION:
        msg = f"unsupported dlx model version {info.get('version')!r} (this dlx reads {VERSION})"
        raise ValueError(msg)
    tree = _parse(info.get("arch"), "model", 0, [0])
    _check_shapes(_expected_state(tree, ""), index)
    tensors = load_file(path)
    model = _build(tree)
    floats = {a.dtype for a in tensors.values() if a.dtype.kind == "f"}
    if floats == {np.dtype(np.float64)}:
        model.double()
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:  # StateDictError: the file's weights and architecture differ
        msg = f"{os.fspath(path)!r}: the weights do not match the stored architecture: {exc}"
        raise ValueError(msg) from None
    return model


def load_state_dict_file(path: str | os.PathLike[str], model: Any = None) -> Any:
    """Read a state dict file: safetensors (``safetensors.torch.save_file``, ``dlx.save``
    of a state dict) or a PyTorch checkpoint of a state dict (``torch.save(
    model.state_dict(), "m.pt")``, read by :func:`dlx.load_torch`, nothing executed).

    With ``model``, load it into the model (strict: keys and shapes must match, else
    :class:`dlx.nn.StateDictError`, a RuntimeError as in PyTorch) and return the model;
    without, return the ``{key: ndarray}`` dict. A PyTorch checkpoint that holds more
    than a state dict (``{"model": ..., "epoch": ...}``) raises a ValueError naming its
    keys: pick one with ``dlx.load_torch(path)[key]``.
    """
    from dlx.io._sniff import PICKLE, ZIP, read_head, sniff

    if sniff(read_head(path, "state dict file")) in (ZIP, PICKLE):
        tensors = _torch_state(path)
    else:
        tensors = load_file(path)
    if model is None:
        return tensors
    model.load_state_dict(tensors, strict=True)
    return model


def _state_arrays(state: Mapping[Any, Any]) -> dict[str, np.ndarray] | None:
    """``{key: array}`` of a flat state dict (str keys, tensor or array values), else None."""
    from dlx.tensor import Tensor

    out = {}
    for k, v in state.items():
        if not isinstance(k, str):
            return None
        if isinstance(v, Tensor):
            out[k] = v.detach().numpy()
        elif isinstance(v, np.ndarray):
            out[k] = v
        else:
            return None
    return out


def _state_dict(arrays: dict[str, np.ndarray], keys: Any) -> Any:
    """The state dict read back as Tensors, in the saved key order when it is recorded."""
    from collections import OrderedDict

    from dlx.tensor import Tensor

    if isinstance(keys, list) and sorted(keys) == sorted(arrays):
        arrays = {k: arrays[k] for k in keys}
    return OrderedDict((k, Tensor(v)) for k, v in arrays.items())


def _torch_state(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    from dlx.io.pytorch import load_torch

    obj = load_torch(path, numpy=True)
    if isinstance(obj, Mapping) and all(
        isinstance(k, str) and isinstance(v, np.ndarray) for k, v in obj.items()
    ):
        return dict(obj)
    keys = list(obj)[:20] if isinstance(obj, Mapping) else None
    msg = (
        f"{os.fspath(path)!r} is a PyTorch checkpoint that holds "
        + (f"a dict with keys {keys}" if keys is not None else f"a {type(obj).__name__}")
        + ", not a state dict of tensors; pick one with dlx.load_torch(path)[key]"
    )
    raise ValueError(msg)


# -- architecture <-> JSON ----------------------------------------------------------------
def read_input_shape(path: str | os.PathLike[str]) -> tuple[int, ...] | None:
    """The per-sample input shape stored by :func:`save`, or None."""
    raw = read_index(path)[1].get(META_KEY)
    try:
        shape = json.loads(raw).get("input_shape") if raw else None
    except (ValueError, AttributeError):
        return None
    if isinstance(shape, list) and shape and all(type(d) is int and d > 0 for d in shape):
        return tuple(shape)
    return None


def registry() -> dict[str, type[Any]]:
    """The Module classes ``load`` may build: every Module subclass exported by dlx.nn."""
    from dlx import nn
    from dlx.nn import Module

    out: dict[str, type[Any]] = {}
    for name in dir(nn):
        obj = getattr(nn, name)
        if (
            isinstance(obj, type)
            and issubclass(obj, Module)
            and obj is not Module
            and obj.__module__.startswith("dlx.")
            and obj.__name__ == name
        ):
            out[name] = obj
    return out


def _arch(module: Any, where: str, depth: int) -> dict[str, Any]:
    from dlx.nn import ModuleDict, ModuleList, Sequential

    name = type(module).__name__
    known = registry()
    if known.get(name) is not type(module):
        msg = (
            f"dlx.save: `{where}` is a {name}, which is not a dlx.nn layer class; save its "
            "weights with dlx.io.save_file(model.state_dict(), path) instead"
        )
        raise ValueError(msg)
    if not hasattr(module, "get_config"):
        msg = f"dlx.save: `{where}` ({name}) has no get_config()"
        raise ValueError(msg)
    config = module.get_config()
    try:
        json.dumps(config)
    except (TypeError, ValueError) as exc:
        msg = f"dlx.save: get_config() of `{where}` ({name}) is not JSON-serialisable: {exc}"
        raise ValueError(msg) from None
    out: dict[str, Any] = {"class": name, "config": config}
    children = list(module.named_children())
    if children or isinstance(module, Sequential | ModuleList | ModuleDict):
        out["children"] = {k: _arch(m, f"{where}.{k}", depth + 1) for k, m in children}
    return out


class _Node(NamedTuple):
    """One validated entry of the architecture JSON (nothing constructed yet)."""

    where: str
    cls: type[Any]
    config: dict[str, Any]
    children: dict[str, _Node]


def _parse(arch: Any, where: str, depth: int, count: list[int]) -> _Node:
    """Validate the architecture JSON's structure, class names and config keys."""
    if depth > MAX_DEPTH:
        msg = f"model architecture is nested deeper than {MAX_DEPTH} levels at `{where}`"
        raise ValueError(msg)
    count[0] += 1
    if count[0] > MAX_MODULES:
        msg = f"model architecture has more than {MAX_MODULES} modules"
        raise ValueError(msg)
    if not isinstance(arch, dict) or not isinstance(arch.get("class"), str):
        msg = f'model architecture entry `{where}` must be an object with a "class" name'
        raise ValueError(msg)  # noqa: TRY004 - a malformed file is a bad value
    extra = set(arch) - {"class", "config", "children"}
    if extra:
        msg = f"model architecture entry `{where}` has unknown fields {sorted(extra)}"
        raise ValueError(msg)
    name = arch["class"]
    cls = registry().get(name)
    if cls is None:
        msg = f"unknown layer class {name!r} at `{where}` (not a dlx.nn Module class)"
        raise ValueError(msg)
    config = arch.get("config", {})
    if not isinstance(config, dict):
        msg = f"config of `{where}` ({name}) must be an object, got {type(config).__name__}"
        raise ValueError(msg)  # noqa: TRY004 - a malformed file is a bad value
    _check_config_keys(cls, config, where)
    raw_children = arch.get("children", {})
    if not isinstance(raw_children, dict):
        msg = f"children of `{where}` ({name}) must be an object"
        raise ValueError(msg)  # noqa: TRY004 - a malformed file is a bad value
    children = {
        str(k): _parse(v, f"{where}.{k}", depth + 1, count) for k, v in raw_children.items()
    }
    return _Node(where, cls, config, children)


def _expected_state(node: _Node, prefix: str) -> Shapes:
    """``{state-dict key: shape}`` of the whole tree, from the configs alone."""
    try:
        own = state_shapes(node.cls, node.config)
    except (TypeError, ValueError, OverflowError) as exc:
        msg = f"cannot build `{node.where}` as {node.cls.__name__}(**{node.config}): {exc}"
        raise ValueError(msg) from None
    out = {prefix + k: v for k, v in own.items()}
    for k, child in node.children.items():
        out.update(_expected_state(child, f"{prefix}{k}."))
    return out


def _check_shapes(expected: Shapes, index: Index) -> None:
    """The architecture's parameters must be exactly the file's tensors, shape for shape
    (a ValueError otherwise: the file contradicts itself)."""
    errors = []
    missing = [k for k in expected if k not in index]
    unexpected = [k for k in index if k not in expected]
    if missing:
        errors.append("missing tensor(s) in the file: " + ", ".join(map(repr, missing[:20])))
    if unexpected:
        errors.append("unexpected tensor(s) in the file: " + ", ".join(map(repr, unexpected[:20])))
    bad = [(k, s, index[k][1]) for k, s in expected.items() if k in index and index[k][1] != s]
    errors += [f"{k}: the architecture needs shape {s}, the file holds {f}" for k, s, f in bad[:20]]
    if errors:
        msg = "model file does not match its architecture:\n\t" + "\n\t".join(errors)
        raise ValueError(msg)


def _build(node: _Node) -> Any:
    """Construct the checked tree (its shapes already match the file's tensors)."""
    from dlx.nn import ModuleDict, ModuleList, Sequential

    children = {k: _build(v) for k, v in node.children.items()}
    cls, config, name = node.cls, node.config, node.cls.__name__
    module: Any
    try:
        if issubclass(cls, Sequential | ModuleList | ModuleDict):
            module = cls(**config)
            for k, child in children.items():
                module.add_module(k, child)
        elif children and hasattr(cls, "_from_children"):  # layers that build their own
            module = cls._from_children(children, config)  # submodules (attention ...)
        elif children:  # wrappers such as Residual(block, shortcut) take their children
            module = cls(*children.values(), **config)
        else:
            module = cls(**config)
    except (TypeError, ValueError, OverflowError, MemoryError) as exc:
        msg = f"cannot build `{node.where}` as {name}(**{config}): {exc}"
        raise ValueError(msg) from None
    if list(dict(module.named_children())) != list(children):
        msg = f"cannot build `{node.where}` as {name} with children {list(children)}"
        raise ValueError(msg)
    return module


def _check_config_keys(cls: type[Any], config: dict[str, Any], where: str) -> None:
    params = inspect.signature(cls).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    allowed = {
        k
        for k, p in params.items()
        if k != "self" and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }
    bad = sorted(set(config) - allowed)
    if bad:
        msg = (
            f"config of `{where}` ({cls.__name__}) has unknown keys {bad}; "
            f"{cls.__name__} accepts {sorted(allowed)}"
        )
        raise ValueError(msg)
