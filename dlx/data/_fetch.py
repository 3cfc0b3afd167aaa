"""Producing one batch: gather the samples, collate, apply the loader's transforms.

The same code runs in the main process (``num_workers=0``) and in every worker, so a
batch is the same whichever produces it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dlx.data.dataset import Dataset, default_collate, gather

Fn = Callable[[Any], Any] | None


class Progress:
    """The sample being read (``None`` outside ``dataset[i]``), for worker error reports."""

    __slots__ = ("index",)

    def __init__(self) -> None:
        self.index: int | None = None


def fetch(
    dataset: Any,
    indices: np.ndarray,
    collate: Fn,
    transform: Fn,
    target_transform: Fn,
    progress: Progress | None = None,
) -> Any:
    """The batch of ``indices``: ``dataset.get_batch`` when it has one and no ``collate`` is
    given, else ``collate`` (default :func:`~dlx.data.default_collate`) over ``dataset[i]``;
    then the transforms."""
    if progress is None or (collate is None and _own_get_batch(dataset)):
        batch = gather(dataset, indices, collate)
    else:
        samples = []
        for i in indices:
            progress.index = int(i)
            samples.append(dataset[progress.index])
        progress.index = None
        batch = (collate or default_collate)(samples)
    return apply_transforms(batch, transform, target_transform)


def _own_get_batch(dataset: Any) -> bool:
    """Whether the dataset gathers batches itself (not Dataset's per-sample default)."""
    method = getattr(type(dataset), "get_batch", None)
    return method is not None and method is not Dataset.get_batch


def apply_transforms(batch: Any, transform: Fn, target_transform: Fn) -> Any:
    """``transform`` on the batch's first field (the whole batch if it is no tuple),
    ``target_transform`` on its second."""
    if transform is None and target_transform is None:
        return batch
    if not isinstance(batch, tuple):
        if target_transform is not None:
            msg = "DataLoader: `target_transform` needs batches of (inputs, targets, ...) tuples"
            raise ValueError(msg)
        return transform(batch) if transform is not None else batch
    fields = list(batch)
    if transform is not None:
        fields[0] = transform(fields[0])
    if target_transform is not None:
        if len(fields) < 2:
            msg = "DataLoader: `target_transform` needs batches with a second (target) field"
            raise ValueError(msg)
        fields[1] = target_transform(fields[1])
    return tuple(fields)
