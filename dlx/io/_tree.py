"""Nested checkpoints (``{"model": sd, "optimizer": opt.state_dict(), "epoch": 3}``) as
safetensors: the tensors under generated names, the structure as JSON.

The JSON tree has one node per value: ``{"t": name}`` a tensor, ``{"d": [[key, node], ...]}``
a dict (keys str, int, float, bool or None, order kept), ``{"l": [...]}`` a list,
``{"u": [...]}`` a tuple, ``{"v": x}`` a str, int, bool, None or finite float, and
``{"f": "nan" | "inf" | "-inf"}`` the other floats. Decoding checks every node and caps the
nesting depth and node count, so a hostile file gives a ValueError, never a deep recursion.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MAX_DEPTH = 64
MAX_NODES = 1_000_000
_KEYS = (str, int, float, bool, type(None))


def encode(obj: Any, tensors: dict[str, np.ndarray], where: str = "obj", depth: int = 0) -> Any:
    """The JSON node of ``obj``; its arrays are added to ``tensors`` under new names."""
    from dlx.tensor import Tensor

    if depth > MAX_DEPTH:
        msg = f"dlx.save: `{where}` is nested deeper than {MAX_DEPTH} levels"
        raise ValueError(msg)
    if isinstance(obj, Tensor | np.ndarray):
        name = str(len(tensors))
        tensors[name] = obj.detach().numpy() if isinstance(obj, Tensor) else obj
        return {"t": name}
    if isinstance(obj, bool | str | int | type(None)):
        return {"v": obj}
    if isinstance(obj, float | np.floating):
        x = float(obj)
        return {"v": x} if math.isfinite(x) else {"f": repr(x)}
    if isinstance(obj, np.integer | np.bool_):
        return {"v": obj.item()}
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, _KEYS):
                msg = f"dlx.save: `{where}` has a key of type {type(k).__name__}; keys must be str, int, float, bool or None"
                raise TypeError(msg)
            items.append([k, encode(v, tensors, f"{where}[{k!r}]", depth + 1)])
        return {"d": items}
    if isinstance(obj, list | tuple):
        nodes = [encode(v, tensors, f"{where}[{i}]", depth + 1) for i, v in enumerate(obj)]
        return {"l" if isinstance(obj, list) else "u": nodes}
    msg = (
        f"dlx.save: `{where}` is a {type(obj).__name__}; a saved object may hold tensors, "
        "arrays, numbers, strings, None, and dicts, lists and tuples of them"
    )
    raise TypeError(msg)


def decode(node: Any, tensors: dict[str, Any]) -> Any:
    """The object of a JSON tree written by :func:`encode` (ValueError if malformed)."""
    count = [0]
    used: set[str] = set()
    out = _decode(node, tensors, 0, count, used)
    if used != set(tensors):
        msg = "saved object: the file's tensors and its structure do not match"
        raise ValueError(msg)
    return out


def _decode(
    node: Any, tensors: dict[str, Any], depth: int, count: list[int], used: set[str]
) -> Any:
    count[0] += 1
    if depth > MAX_DEPTH or count[0] > MAX_NODES:
        msg = f"saved object: nested deeper than {MAX_DEPTH} levels or over {MAX_NODES} values"
        raise ValueError(msg)
    if not isinstance(node, dict) or len(node) != 1:
        msg = f"saved object: malformed node {str(node)[:60]}"
        raise ValueError(msg)
    ((kind, value),) = node.items()
    if kind == "t" and isinstance(value, str) and value in tensors and value not in used:
        used.add(value)
        return tensors[value]
    if kind == "v" and isinstance(value, str | int | float | bool | type(None)):
        return value
    if kind == "f" and value in ("nan", "inf", "-inf"):
        return float(value)
    if kind in ("l", "u") and isinstance(value, list):
        items = [_decode(v, tensors, depth + 1, count, used) for v in value]
        return items if kind == "l" else tuple(items)
    if kind == "d" and isinstance(value, list):
        out = {}
        for pair in value:
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], _KEYS)):
                msg = f"saved object: malformed dict entry {str(pair)[:60]}"
                raise ValueError(msg)
            out[pair[0]] = _decode(pair[1], tensors, depth + 1, count, used)
        return out
    msg = f"saved object: malformed node {str(node)[:60]}"
    raise ValueError(msg)
