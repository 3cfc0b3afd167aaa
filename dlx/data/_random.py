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


def draw_seed(generator: SeedLike, arg: str, fn: str) -> int:
    """A non-negative int seed: an int is used as is; a Generator or SeedSequence is consumed
    once, here, to draw it; None draws it from OS entropy."""
    if isinstance(generator, np.random.Generator):
        return int(generator.integers(2**63))
    if generator is None or isinstance(generator, np.random.SeedSequence):
        return int(np.random.default_rng(generator).integers(2**63))
    return check_seed(generator, arg, fn)


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """The Generator of epoch ``epoch``: the shuffles of the loader and the samplers."""
    return np.random.default_rng([seed, epoch])


class WorkerStream:
    """Where the random transforms draw from inside a DataLoader worker for one epoch.

    A worker sets :data:`worker_stream` at the start of every epoch; a random transform
    that sees a new ``generation`` replaces its Generator with one derived from
    ``(seed, epoch, worker id, k, its own seed)``, ``k`` counting the transforms in the
    order of their first use in that epoch. Augmentation is then reproducible for a given
    loader seed and worker count, and independent between workers.
    """

    _generations = 0

    def __init__(self, seed: int, epoch: int, worker_id: int) -> None:
        WorkerStream._generations += 1
        self.generation = WorkerStream._generations
        self.seed, self.epoch, self.worker_id = seed, epoch, worker_id
        self._derived = 0

    def derive(self, fingerprint: int | None) -> np.random.Generator:
        """A new Generator for the next transform that asks in this epoch."""
        self._derived += 1
        key: tuple[int, ...] = (self.epoch, self.worker_id, self._derived)
        if fingerprint is not None:
            key += (fingerprint,)
        return np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=key))


# Set by a DataLoader worker (dlx.data._worker) at every epoch start; None elsewhere.
worker_stream: WorkerStream | None = None
