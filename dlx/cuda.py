"""``dlx.cuda``: dlx runs on the CPU, so there is no CUDA device.

The functions PyTorch scripts call unconditionally (``is_available``, ``device_count``,
``manual_seed_all``, ``empty_cache``) work and report no device; moving a tensor or module
to ``"cuda"`` raises the CPU-only error.
"""

from __future__ import annotations

from dlx._random import _check_seed

__all__ = ["device_count", "empty_cache", "is_available", "manual_seed", "manual_seed_all"]


def is_available() -> bool:
    """False: dlx has no CUDA support."""
    return False


def device_count() -> int:
    """0: no CUDA devices."""
    return 0


def manual_seed(seed: int) -> None:
    """Accepted and ignored (there is no CUDA generator); the seed is still checked."""
    _check_seed(seed)


def manual_seed_all(seed: int) -> None:
    """Accepted and ignored (there is no CUDA generator); the seed is still checked."""
    _check_seed(seed)


def empty_cache() -> None:
    """Nothing to free: no CUDA memory."""
