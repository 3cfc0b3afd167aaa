"""Argument checks shared by dlx.data's loader, samplers and transforms.

Messages follow the house rule: "Where: `arg` <rule>, got <value>".
"""

from __future__ import annotations

import operator

import numpy as np


def int_arg(value: object, name: str, where: str, minimum: int, rule: str | None = None) -> int:
    """``value`` as an int >= ``minimum``: TypeError for non-ints (bools included),
    ValueError below ``minimum``; ``rule`` replaces the default wording of both."""
    try:
        if isinstance(value, bool):
            raise TypeError
        v = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        msg = f"{where}: `{name}` must be {rule or 'an int'}, got {value!r}"
        raise TypeError(msg) from None
    if v < minimum:
        default = "positive" if minimum == 1 else f">= {minimum}"
        msg = f"{where}: `{name}` must be {rule or default}, got {v}"
        raise ValueError(msg)
    return v


def flag(value: object, name: str, where: str, hint: str = "") -> bool:
    """A bool (NumPy bools, 0 and 1 accepted); anything else is a TypeError naming ``name``."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer) and value in (0, 1):
        return bool(value)
    msg = f"{where}: `{name}` must be a bool, got {type(value).__name__}{hint}"
    raise TypeError(msg)
