"""Module helpers: state-dict loading, hook handles, repr indentation, name checks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from dlx._autograd import TensorBase
from dlx._validation import shape_str

if TYPE_CHECKING:
    from dlx.nn.modules.module import Module


class StateDictError(RuntimeError):
    """A state dict does not match the module (a RuntimeError, as in PyTorch)."""


class IncompatibleKeys(NamedTuple):
    """Keys ``load_state_dict(strict=False)`` could not match."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class RemovableHandle:
    """Returned by hook registration; ``remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks: dict[int, Callable[..., Any]]) -> None:
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)


def addindent(s: str, spaces: int) -> str:
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def module_repr(name: str, extra: str, children: Iterable[tuple[str, Any]]) -> str:
    """PyTorch's module repr: ``Name(extra)`` or one line per extra line and child."""
    extra_lines = extra.split("\n") if extra else []
    child_lines = [f"({key}): " + addindent(repr(module), 2) for key, module in children]
    lines = extra_lines + child_lines
    body = ""
    if lines:
        if len(extra_lines) == 1 and not child_lines:
            body = extra_lines[0]
        else:
            body = "\n  " + "\n  ".join(lines) + "\n"
    return f"{name}({body})"


def check_name(module: Module, name: object, kind: str, existing: dict[str, Any]) -> str:
    if not isinstance(name, str):
        msg = f"{kind} name must be a str, got {type(name).__name__}"
        raise TypeError(msg)
    if not name or "." in name:
        msg = f"{kind} name must be a non-empty str without '.', got {name!r}"
        raise KeyError(msg)
    if hasattr(module, name) and name not in existing:
        msg = f"attribute {name!r} already exists"
        raise KeyError(msg)
    return name


def _as_array(value: Any) -> np.ndarray:
    """A state-dict value (dlx Tensor, ndarray, torch tensor, ...) as an array."""
    if isinstance(value, TensorBase):
        return value.numpy()
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def load_state(module: Module, state_dict: Mapping[str, Any], strict: bool) -> IncompatibleKeys:
    """Check ``state_dict`` against ``module`` completely, then copy it in place.

    Every value is converted to its target's dtype before the first copy, so a bad value
    (wrong shape, a string or complex array, a NaN for an integer buffer ...) raises
    with the module untouched.
    """
    if not isinstance(state_dict, Mapping):
        msg = f"`state_dict` must be a mapping, got {type(state_dict).__name__}"
        raise TypeError(msg)
    own = module.state_dict(keep_vars=True)
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    errors, pairs = [], []
    for key, target in own.items():
        if key not in state_dict:
            continue
        try:
            value = _as_array(state_dict[key])
        except (TypeError, ValueError) as exc:  # numpy cannot read it: a bad entry
            errors.append(f"cannot read the value for {key} as an array: {exc}")
            continue
        if value.shape != target.shape:
            errors.append(
                f"size mismatch for {key}: copying a value of shape {shape_str(value.shape)} "
                f"into a tensor of shape {shape_str(target.shape)}"
            )
            continue
        converted, problem = _cast(value, target.dtype)
        if problem:
            errors.append(f"bad value for {key}: {problem}")
        else:
            pairs.append((target, converted))
    if strict:
        if unexpected:
            errors.insert(0, "unexpected key(s) in state_dict: " + ", ".join(map(repr, unexpected)))
        if missing:
            errors.insert(0, "missing key(s) in state_dict: " + ", ".join(map(repr, missing)))
    if errors:
        msg = f"error(s) in loading state_dict for {module._get_name()}:\n\t" + "\n\t".join(errors)
        raise StateDictError(msg)
    for target, value in pairs:
        np.copyto(target.numpy(), value)
        target._bump_version()
    return IncompatibleKeys(missing, unexpected)


def _cast(value: np.ndarray, dtype: np.dtype) -> tuple[np.ndarray, str]:
    """``value`` as ``dtype`` (a copy only when the dtypes differ), or a reason it can't be.

    Real numbers convert as in PyTorch's ``copy_`` (float64 -> float32 may round to inf);
    an integer target refuses NaN, infinities and values outside its range instead of
    wrapping them.
    """
    if value.dtype.kind not in "biuf":
        return value, f"expected a real number array, got dtype {value.dtype}"
    if value.dtype == dtype:
        return value, ""
    if dtype.kind in "iu" and value.size:
        info = np.iinfo(dtype)
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            return value, f"NaN or infinity cannot be stored in a tensor of dtype {dtype}"
        lo, hi = value.min(), value.max()
        if lo < info.min or hi > info.max:
            return value, f"values in [{lo}, {hi}] do not fit a tensor of dtype {dtype}"
    with np.errstate(all="ignore"):
        return value.astype(dtype), ""
