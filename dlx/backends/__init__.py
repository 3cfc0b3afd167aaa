"""``dlx.backends``: PyTorch's backend switches, for scripts that set them.

``dlx.backends.cudnn`` and ``dlx.backends.mps`` report that the backend is not available;
setting their flags (``cudnn.benchmark = True``) has no effect on dlx.
"""

from __future__ import annotations

from dlx.backends import cudnn, mps

__all__ = ["cudnn", "mps"]
