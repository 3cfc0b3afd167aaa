"""The default random generator used by initialisers and random factories."""

from __future__ import annotations

import operator

import numpy as np

_default: np.random.Generator | None = None  # created on first use (numpy.random is slow to import)


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed dlx's default generator (used by ``nn.init``, ``dlx.randn`` ...).

    Parameters
    ----------
    seed : int
        A non-negative integer.

    Returns
    -------
    numpy.random.Generator
        The new default generator.
    """
    global _default
    if isinstance(seed, bool):
        msg = f"`seed` must be a non-negative int, got {seed!r}"
        raise TypeError(msg)
    try:
        seed = operator.index(seed)
    except TypeError:
        msg = f"`seed` must be a non-negative int, got {type(seed).__name__}"
        raise TypeError(msg) from None
    if seed < 0:
        msg = f"`seed` must be a non-negative int, got {seed}"
        raise ValueError(msg)
    _default = np.random.default_rng(seed)
    return _default


def default_generator() -> np.random.Generator:
    """Return the current default generator (seeded from the OS until ``manual_seed``)."""
    global _default
    if _default is None:
        _default = np.random.default_rng()
    return _default


def resolve_generator(generator: np.random.Generator | None) -> np.random.Generator:
    """The given generator, or the default one; TypeError for anything else."""
    if generator is None:
        return default_generator()
    if not isinstance(generator, np.random.Generator):
        msg = (
            f"`generator` must be a numpy.random.Generator or None, got {type(generator).__name__}"
        )
        raise TypeError(msg)
    return generator
