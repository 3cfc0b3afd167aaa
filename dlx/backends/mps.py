"""``dlx.backends.mps``: not available (dlx runs on the CPU)."""

from __future__ import annotations


def is_available() -> bool:
    """False: dlx has no Metal support."""
    return False


def is_built() -> bool:
    """False: dlx has no Metal support."""
    return False
