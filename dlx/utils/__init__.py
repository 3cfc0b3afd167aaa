"""PyTorch's ``torch.utils`` names, so ``import dlx as torch`` keeps ``torch.utils.data`` working.

``dlx.utils.data`` is :mod:`dlx.data` under PyTorch's path (the same objects).
"""

from __future__ import annotations

from dlx.utils import data

__all__ = ["data"]
