"""Seed handling shared by the loader, the splits and the random transforms."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

# What every `seed` / `generator` argument in dlx.data accepts.
SeedLike = int | np.integer | np.random.SeedSequence | np.random.Generator | None


def as_generator(seed: SeedLike, arg: str, fn: str) -> np.random.Generator:
    """A Generator from None (fresh OS entropy), an int seed, a SeedSequence or a Generator.

    A Generator is returned as is (shared, so it advances for its owner too).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    return np.random.default_rng(check_seed(seed, arg, fn))


def check_seed(seed: object, arg: str, fn: str) -> int:
    """Return ``seed`` as a non-negative Python int, or raise naming ``arg``."""
    if isinstance(seed, bool):
        index = None
    else:
        try:
            index = operator.index(seed)  # type: ignore[arg-type]
        except TypeError:
            index = None
    if index is None:
        msg = (
            f"{fn}: `{arg}` must be None, a non-negative int seed, a numpy.random.SeedSequence "
            f"or a numpy.random.Generator, got {type(seed).__name__}"
        )
        raise TypeError(msg)
    if index < 0:
        msg = f"{fn}: `{arg}` must be a non-negative seed, got {index}"
        raise ValueError(msg)
    return index


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """The JSON-serialisable state of a Generator's bit generator."""
    return dict(rng.bit_generator.state)


def set_rng_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    """Restore a state taken by :func:`rng_state` (same bit generator type)."""
    rng.bit_generator.state = state
