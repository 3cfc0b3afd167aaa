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
from dlx.io.safetensors import Index, SafetensorsError, load_file, read_index, save_file

FORMAT = "dlx-model"
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
    """Save ``model`` (architecture and weights) to a safetensors file, atomically.

    Every module must be a dlx class with ``get_config()``; for other models save the
    weights alone with ``dlx.io.save_file(model.state_dict(), path)`` and load them with
    :func:`load_state_dict_file`. ``input_shape`` (per sample, without the batch) is
    stored for ``dlx summary``. ``metadata`` adds string entries to the file's safetensors
    metadata (read them with :func:`dlx.io.read_metadata`); the key ``"dlx"`` is reserved.
    """
    extra = dict(metadata or {})
    if META_KEY in extra or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in extra.items()
    ):
        msg = f"`metadata` must map str to str without the reserved key {META_KEY!r}"
        raise ValueError(msg)
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


def load(path: str | os.PathLike[str]) -> Any:
    """Rebuild the model saved by :func:`save` and load its weights.

    Raises
    ------
    dlx.io.SafetensorsError
        The file is not valid safetensors (bad header, offsets, dtype ...).
    ValueError
        The architecture is missing or invalid: unknown layer class, bad config keys or
        values, or weights that do not match it (the message names the key). All of this
        is checked against the file's header before any layer or weight is allocated.
    """
    index, meta = read_index(path)
    if META_KEY not in meta:
        msg = (
            f"{os.fspath(path)!r} has no dlx architecture metadata; load plain weights "
            "into a model you build with dlx.load_state_dict_file(path, model)"
        )
        raise ValueError(msg)
    try:
        info = json.loads(meta[META_KEY])
    except (json.JSONDecodeError, RecursionError) as exc:
        msg = f"model architecture metadata is not valid JSON: {exc}"
        raise SafetensorsError(msg) from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        msg = f"model metadata must have format {FORMAT!r}"
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
    """Read a safetensors state dict (e.g. from ``safetensors.torch.save_file``).

    With ``model``, load it into the model (strict: keys and shapes must match, else
    :class:`dlx.nn.StateDictError`, a RuntimeError as in PyTorch) and return the model;
    without, return the ``{key: ndarray}`` dict.
    """
    tensors = load_file(path)
    if model is None:
        return tensors
    model.load_state_dict(tensors, strict=True)
    return model


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
    from dlx.nn import ModuleList, Sequential

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
    if children or isinstance(module, Sequential | ModuleList):
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
    from dlx.nn import ModuleList, Sequential

    children = {k: _build(v) for k, v in node.children.items()}
    cls, config, name = node.cls, node.config, node.cls.__name__
    module: Any
    try:
        if issubclass(cls, Sequential | ModuleList):
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
