"""``dlx.backends.cudnn``: not available (dlx runs on the CPU); the flags are accepted."""

from __future__ import annotations

enabled = False
benchmark = False
deterministic = False


def is_available() -> bool:
    """False: dlx does not use cuDNN."""
    return False
