"""What ``dlx.train.fit`` does differently under MPI, over ``dlx.distributed``'s public API.

* the training loader is sharded per rank (:func:`~dlx.distributed.shard_loader`);
* rank 0's weights and buffers are broadcast before training;
* gradients are averaged after every backward (one allreduce per flat grad buffer);
* per-epoch loss and metrics are sample-weighted averages over all ranks (padding
  samples of an uneven last shard count);
* BatchNorm running statistics are averaged at every epoch end, so the models are
  identical on all ranks for validation, checkpoints and after ``fit``;
* validation is split across ranks (contiguous, unpadded) and the sums are reduced;
* only rank 0 shows progress and writes checkpoints / CSV logs.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

import dlx.distributed as dist
from dlx.data import DataLoader, Subset, TensorDataset
from dlx.train.metrics import get_metric


def is_main_process() -> bool:
    """True unless a process group is initialised and this is not rank 0 (no MPI import)."""
    return not dist.is_initialized() or dist.get_rank() == 0


def context(distributed: bool | None, model: Any, optimizer: Any) -> FitContext | None:
    """The context for ``fit(distributed=...)``: None runs single-process.

    ``None`` means "auto": distributed when :func:`dlx.distributed.init` has run in a job of
    more than one process. ``True`` initialises MPI (a world of 1 works too).
    """
    if distributed is None:
        distributed = dist.is_initialized() and dist.get_world_size() > 1
    if not distributed:
        return None
    dist.init()
    if getattr(optimizer, "needs_closure", False):
        msg = (
            f"fit: {type(optimizer).__name__} needs a closure (a line search per rank), which "
            "distributed training does not support"
        )
        raise ValueError(msg)
    return FitContext(model, optimizer)


class FitContext:
    """Per-``fit`` distributed state and hooks."""

    def __init__(self, model: Any, optimizer: Any) -> None:
        self.model, self.optimizer = model, optimizer
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        self.main = self.rank == 0
        dist.broadcast_parameters(model, 0)

    def shard(self, loader: Any) -> Any:
        return dist.shard_loader(loader, self.rank, self.world)

    def sync_gradients(self) -> None:
        dist.allreduce_gradients(self.optimizer)

    def reduce_totals(self, totals: dict[str, float], n: int) -> tuple[dict[str, float], int]:
        """Sum per-rank sample-weighted totals and sample counts over the ranks."""
        keys = list(totals)
        buf = np.array([*(totals[k] for k in keys), float(n)], dtype=np.float64)
        dist.allreduce_([buf], "sum")
        return dict(zip(keys, buf[:-1].tolist(), strict=True)), int(buf[-1])

    def end_epoch(self) -> None:
        dist.sync_buffers(self.model)

    def evaluate(
        self, loss_fn: Any, data: Any, batch_size: int | None, metrics: Sequence[Any]
    ) -> dict[str, float]:
        """``evaluate`` on this rank's contiguous part of ``data``, reduced over the ranks."""
        from dlx.train.loop import evaluate  # loop imports this module

        loader = data if isinstance(data, DataLoader) else None
        dataset = data.dataset if loader is not None else data
        if isinstance(dataset, tuple | list) and len(dataset) == 2:
            dataset = TensorDataset(np.asarray(dataset[0]), np.asarray(dataset[1]))
        part = np.array_split(np.arange(len(dataset)), self.world)[self.rank]
        keys = (["loss"] if loss_fn is not None else []) + [
            get_metric(m)[0] for m in (metrics or ())
        ]
        local: dict[str, float] = {}
        if len(part):
            mine: Any = Subset(dataset, part)
            if loader is not None:  # keep its batch size and transforms
                sub = copy.copy(loader)
                sub.dataset = mine
                mine = sub
            local = evaluate(self.model, loss_fn, mine, batch_size, metrics)
        totals = {k: local.get(k, 0.0) * len(part) for k in keys}
        totals, n = self.reduce_totals(totals, len(part))
        return {k: v / max(n, 1) for k, v in totals.items()}
