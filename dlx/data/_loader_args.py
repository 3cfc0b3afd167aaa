"""Argument checks of :class:`~dlx.data.DataLoader` (PyTorch's rules and messages' spirit)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlx.data import _checks

_FN = "DataLoader"


def flag(value: object, name: str) -> bool:
    """A bool (None counts as False, as PyTorch's ``shuffle=None``)."""
    if value is None:
        return False
    hint = ""
    if name in ("shuffle", "drop_last") and hasattr(value, "__iter__"):
        hint = " (pass samplers by keyword: sampler=..., batch_sampler=...)"
    return _checks.flag(value, name, _FN, hint)


def int_at_least(value: object, name: str, minimum: int, rule: str) -> int:
    return _checks.int_arg(value, name, _FN, minimum, rule)


def batch_size(value: object) -> int | None:
    if value is None:
        return None
    return int_at_least(value, "batch_size", 1, "a positive int or None")


def callable_or_none(value: Any, name: str) -> Any:
    if value is not None and not callable(value):
        msg = f"{_FN}: `{name}` must be callable or None, got {type(value).__name__}"
        raise TypeError(msg)
    return value


def timeout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        msg = f"{_FN}: `timeout` must be a number of seconds >= 0, got {value!r}"
        raise TypeError(msg)
    t = float(value)
    if not (t >= 0 and math.isfinite(t)):
        msg = f"{_FN}: `timeout` must be a finite number of seconds >= 0, got {value!r}"
        raise ValueError(msg)
    return t


def iterable_or_none(value: Any, name: str) -> Any:
    if value is not None and not hasattr(value, "__iter__"):
        msg = f"{_FN}: `{name}` must be an iterable of indices or None, got {type(value).__name__}"
        raise TypeError(msg)
    return value


def combinations(
    size: int | None, shuffle: bool, drop_last: bool, sampler: Any, batch_sampler: Any
) -> None:
    """The exclusive-argument rules of ``sampler`` and ``batch_sampler``."""
    if sampler is not None and shuffle:
        msg = (
            f"{_FN}: `sampler` and `shuffle=True` are mutually exclusive "
            "(a RandomSampler shuffles; set shuffle on the sampler)"
        )
        raise ValueError(msg)
    if batch_sampler is not None and (
        size not in (1, None) or shuffle or sampler is not None or drop_last
    ):
        msg = (
            f"{_FN}: `batch_sampler` is mutually exclusive with `batch_size`, `shuffle`, "
            "`sampler` and `drop_last` (it decides all of them)"
        )
        raise ValueError(msg)


def workers(
    num_workers: object, prefetch_factor: object, persistent_workers: object
) -> tuple[int, int, bool]:
    """(num_workers, prefetch_factor, persistent_workers) with PyTorch's defaults and rules."""
    n = int_at_least(num_workers, "num_workers", 0, "an int >= 0")
    persistent = flag(persistent_workers, "persistent_workers")
    if n == 0:
        if prefetch_factor is not None:
            msg = f"{_FN}: `prefetch_factor` needs num_workers > 0 (there is nothing to prefetch into)"
            raise ValueError(msg)
        if persistent:
            msg = f"{_FN}: `persistent_workers=True` needs num_workers > 0"
            raise ValueError(msg)
        return 0, 0, False
    prefetch = (
        2
        if prefetch_factor is None
        else int_at_least(prefetch_factor, "prefetch_factor", 1, "a positive int or None")
    )
    return n, prefetch, persistent
