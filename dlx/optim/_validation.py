"""Argument checks for dlx.optim: every constructor and add_param_group goes through here.

Messages name the argument in backticks, state the rule, then show what was received.
Bad values raise ValueError, bad types TypeError; a parameter that is not float32/float64
raises ParamDTypeError (a RuntimeError, as in PyTorch).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from dlx._autograd import TensorBase

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class ParamDTypeError(RuntimeError):
    """A parameter whose data is not float32/float64 (a RuntimeError, as PyTorch's fused
    optimisers raise for parameters that are not floating point)."""


def real(value: Any, name: str) -> float:
    """`value` as a float; TypeError unless it is a real number (bool excluded)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        msg = f"`{name}` must be a real number, got {type(value).__name__}"
        raise TypeError(msg)
    return float(value)


def positive(value: Any, name: str) -> float:
    """A finite number > 0 (the learning rate)."""
    v = real(value, name)
    if not (v > 0 and math.isfinite(v)):
        msg = f"`{name}` must be a finite number > 0, got {value!r}"
        raise ValueError(msg)
    return v


def non_negative(value: Any, name: str) -> float:
    """A finite number >= 0 (eps, weight_decay, momentum ...)."""
    v = real(value, name)
    if not (v >= 0 and math.isfinite(v)):
        msg = f"`{name}` must be a finite number >= 0, got {value!r}"
        raise ValueError(msg)
    return v


def in_range(value: Any, name: str, lo: float, hi: float, hi_closed: bool) -> float:
    """A number in [lo, hi] or [lo, hi)."""
    v = real(value, name)
    ok = lo <= v <= hi if hi_closed else lo <= v < hi
    if not ok:
        msg = f"`{name}` must be in [{lo:g}, {hi:g}{']' if hi_closed else ')'}, got {value!r}"
        raise ValueError(msg)
    return v


def betas(value: Any, name: str = "betas") -> tuple[float, float]:
    """A pair (beta1, beta2), each in [0, 1)."""
    if not isinstance(value, tuple | list) or len(value) != 2:
        msg = f"`{name}` must be a pair (beta1, beta2), got {value!r}"
        raise TypeError(msg)
    return (
        in_range(value[0], f"{name}[0]", 0.0, 1.0, False),
        in_range(value[1], f"{name}[1]", 0.0, 1.0, False),
    )


def real_pair(value: Any, name: str, what: str) -> tuple[float, float]:
    """A pair of real numbers; `what` names the two entries in the message."""
    if not isinstance(value, tuple | list) or len(value) != 2:
        msg = f"`{name}` must be a pair {what}, got {value!r}"
        raise TypeError(msg)
    return real(value[0], f"{name}[0]"), real(value[1], f"{name}[1]")


def flag(value: Any, name: str) -> bool:
    """A bool (numpy bools included)."""
    if not isinstance(value, bool | np.bool_):
        msg = f"`{name}` must be a bool, got {type(value).__name__}"
        raise TypeError(msg)
    return bool(value)


def positive_int(value: Any, name: str) -> int:
    """An int >= 1 (bool excluded)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        msg = f"`{name}` must be an int, got {type(value).__name__}"
        raise TypeError(msg)
    if value < 1:
        msg = f"`{name}` must be >= 1, got {value}"
        raise ValueError(msg)
    return int(value)


def check_param(p: Any, where: str) -> np.dtype:
    """The dtype of parameter `p` after checking it is a float32/float64 dlx Tensor."""
    if not isinstance(p, TensorBase):
        msg = f"{where} must be a dlx.Tensor (e.g. an nn.Parameter), got {type(p).__name__}"
        raise TypeError(msg)
    data = p._data
    if data.dtype not in FLOAT_DTYPES:
        msg = f"{where} must have float32 or float64 data, got {data.dtype}"
        raise ParamDTypeError(msg)
    return data.dtype


def check_grad(p: Any, dtype: np.dtype, where: str) -> None:
    """A parameter's existing grad must match its data in shape and dtype."""
    g = p.grad
    if g is None:
        return
    g = g._data
    if g.shape != p._data.shape:
        msg = f"{where} has a `grad` of shape {g.shape}, its data has shape {p._data.shape}"
        raise ValueError(msg)
    if g.dtype != dtype:
        msg = f"{where} has a `grad` of dtype {g.dtype}, its data has dtype {dtype}"
        raise TypeError(msg)


def param_groups(params: Any) -> list[dict[str, Any]]:
    """Normalise `params` (an iterable of parameters or of dicts) to a list of group dicts."""
    if isinstance(params, np.ndarray | TensorBase | dict):
        msg = (
            "`params` must be an iterable of parameters or of dicts (param groups), got "
            f"{type(params).__name__}"
        )
        raise TypeError(msg)
    if not isinstance(params, Iterable):
        msg = f"`params` must be an iterable of parameters or dicts, got {type(params).__name__}"
        raise TypeError(msg)
    items = list(params)
    if not items:
        msg = "`params` is an empty list: the optimiser needs at least one parameter"
        raise ValueError(msg)
    if all(isinstance(it, dict) for it in items):
        return [dict(it) for it in items]
    if any(isinstance(it, dict) for it in items):
        msg = "`params` must be all parameters or all dicts (param groups), not a mix"
        raise TypeError(msg)
    return [{"params": items}]


def group_params(group: Any, index: int) -> list[Any]:
    """The parameter list of a param group dict, checked non-empty."""
    if not isinstance(group, dict) or "params" not in group:
        msg = f"param group {index} must be a dict with a `params` key, got {group!r:.80}"
        raise TypeError(msg)
    ps = group["params"]
    if isinstance(ps, np.ndarray) or hasattr(ps, "data"):
        ps = [ps]
    if isinstance(ps, set):
        msg = f"`params` of param group {index} must be an ordered sequence, got a set"
        raise TypeError(msg)
    ps = list(ps)
    if not ps:
        msg = f"`params` of param group {index} is empty: a group needs at least one parameter"
        raise ValueError(msg)
    return ps
