"""The default random generator used by initialisers and random factories."""

from __future__ import annotations

import copy
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


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool):
        msg = f"`seed` must be a non-negative int, got {seed!r}"
        raise TypeError(msg)
    try:
        s = operator.index(seed)  # type: ignore[arg-type]
    except TypeError:
        msg = f"`seed` must be a non-negative int, got {type(seed).__name__}"
        raise TypeError(msg) from None
    if s < 0:
        msg = f"`seed` must be a non-negative int, got {s}"
        raise ValueError(msg)
    return s


class Generator:
    """A random generator object in PyTorch's style (``dlx.Generator().manual_seed(0)``),
    over a ``numpy.random.Generator``; pass it as ``generator=`` to the random functions.

    Parameters
    ----------
    device : str or dlx.device
        Only the CPU.
    """

    def __init__(self, device: object = "cpu") -> None:
        from dlx._device import check_device

        check_device(device)  # type: ignore[arg-type]
        self._initial = int(np.random.SeedSequence().entropy % 2**63)  # type: ignore[operator]
        self.rng = np.random.default_rng(self._initial)

    def manual_seed(self, seed: int) -> Generator:
        """Reseed; returns self (``g = dlx.Generator().manual_seed(0)``)."""
        self._initial = _check_seed(seed)
        self.rng = np.random.default_rng(self._initial)
        return self

    def seed(self) -> int:
        """Reseed from the OS; returns the new seed."""
        self._initial = int(np.random.SeedSequence().entropy % 2**63)  # type: ignore[operator]
        self.rng = np.random.default_rng(self._initial)
        return self._initial

    def initial_seed(self) -> int:
        """The seed of the last (re)seeding."""
        return self._initial

    def get_state(self) -> dict[str, object]:
        """The generator's state (a dict; restore it with :meth:`set_state`)."""
        return copy.deepcopy(dict(self.rng.bit_generator.state))

    def set_state(self, state: dict[str, object]) -> Generator:
        """Restore a state from :meth:`get_state`."""
        self.rng.bit_generator.state = copy.deepcopy(state)
        return self

    @property
    def device(self) -> object:
        """Always ``cpu``."""
        from dlx._device import device

        return device("cpu")


def resolve_generator(generator: object) -> np.random.Generator:
    """The NumPy generator behind ``generator`` (a ``dlx.Generator``, a
    ``numpy.random.Generator``, or None for the default one); TypeError otherwise."""
    if generator is None:
        return default_generator()
    if isinstance(generator, Generator):
        return generator.rng
    if not isinstance(generator, np.random.Generator):
        msg = (
            f"`generator` must be a dlx.Generator, a numpy.random.Generator or None, got "
            f"{type(generator).__name__}"
        )
        raise TypeError(msg)
    return generator


def get_rng_state() -> dict[str, object]:
    """The state of dlx's default generator (restore it with :func:`set_rng_state`)."""
    return copy.deepcopy(dict(default_generator().bit_generator.state))


def set_rng_state(state: dict[str, object]) -> None:
    """Restore the default generator's state from :func:`get_rng_state`."""
    if not isinstance(state, dict):
        msg = f"`state` must be a dict from dlx.get_rng_state(), got {type(state).__name__}"
        raise TypeError(msg)
    default_generator().bit_generator.state = copy.deepcopy(state)
