"""Sharding each epoch's sample order across ranks (pure NumPy; no MPI needed).

:class:`DistributedSampler` (PyTorch's interface, for ``DataLoader(ds, sampler=...)``)
and :func:`shard_indices` live in :mod:`dlx.data.sampler` and are re-exported here;
:class:`DistributedLoader` is a DataLoader that shards by itself.

Every rank draws the SAME permutation as :class:`dlx.data.DataLoader` would (from
``numpy.random.default_rng([seed, epoch])``), makes its length a multiple of the world
size (padding by wrapping around to the start of the order, or dropping the tail with
``drop_last=True``) and takes a strided shard: rank ``r`` of ``W`` gets positions
``r, r + W, r + 2W, ...``. All shards therefore have the same length (so every rank runs
the same number of steps and no collective is left waiting), and batch ``k`` of the ``W``
ranks together is exactly batch ``k`` of a single-process loader with ``W`` times the batch
size: 2 ranks x batch 32 see the same samples per step as 1 process x batch 64.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from dlx.data.loader import DataLoader
from dlx.data.sampler import DistributedSampler, _check_rank, shard_indices

__all__ = ["DistributedLoader", "DistributedSampler", "shard_indices", "shard_loader"]


class DistributedLoader(DataLoader):
    """A :class:`~dlx.data.DataLoader` that yields only rank ``rank``'s shard of each epoch.

    Takes the DataLoader's arguments plus ``rank`` and ``world_size`` (default: from
    :mod:`dlx.distributed`). ``batch_size`` is per rank. ``drop_last`` drops both the tail
    that does not divide by the world size and the last short batch; otherwise the order
    is padded by wrapping around (a few samples count twice in that epoch). The
    ``generator`` seed must be an int (equal on every rank) when shuffling.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        generator: Any = None,
        *,
        rank: int | None = None,
        world_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        if shuffle and not isinstance(generator, int | np.integer):
            msg = (
                "DistributedLoader: `generator` must be an int seed (the same on every rank) "
                f"when shuffling, got {type(generator).__name__}"
            )
            raise TypeError(msg)
        super().__init__(dataset, batch_size, shuffle, drop_last, generator, **kwargs)
        self._set_group(rank, world_size)

    def _set_group(self, rank: int | None, world_size: int | None) -> None:
        if rank is None or world_size is None:
            from dlx.distributed._mpi import init

            r, w = init()
            rank = r if rank is None else rank
            world_size = w if world_size is None else world_size
        _check_rank(rank, world_size)
        self.rank, self.world_size = rank, world_size

    def _num_samples(self) -> int:
        """This rank's shard of the epoch (equal on every rank; see ``shard_indices``)."""
        n, w = super()._num_samples(), self.world_size
        return n // w if self.drop_last else -(-n // w)

    def _epoch_indices(self, order: np.ndarray) -> np.ndarray:
        return shard_indices(order, self.rank, self.world_size, self.drop_last)

    def state_dict(self) -> dict[str, Any]:
        """DataLoader's state plus ``world_size`` (resuming needs the same world size)."""
        return {**super().state_dict(), "world_size": self.world_size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; ValueError if it was saved with another world size."""
        saved = state.get("world_size", 1)
        if saved != self.world_size:
            msg = (
                f"cannot resume: the checkpoint was written by {saved} ranks, this run has "
                f"{self.world_size} (resume with the same number of ranks)"
            )
            raise ValueError(msg)
        super().load_state_dict(state)

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", rank={self.rank}, world_size={self.world_size})"


def shard_loader(
    loader: DataLoader, rank: int | None = None, world_size: int | None = None
) -> DistributedLoader:
    """A :class:`DistributedLoader` with ``loader``'s settings (seed, epoch, transforms ...)."""
    if isinstance(loader, DistributedLoader):
        return loader
    if type(loader) is not DataLoader:
        msg = (
            f"shard_loader: can only shard a plain DataLoader, got {type(loader).__name__} "
            "(build a DistributedLoader instead)"
        )
        raise TypeError(msg)
    out = copy.copy(loader)
    out.__class__ = DistributedLoader
    out._set_group(rank, world_size)  # type: ignore[attr-defined]
    return out  # type: ignore[return-value]
