"""Samplers: which dataset indices an epoch visits, in which order (PyTorch's interface).

A sampler is an iterable of indices with a length; :class:`~dlx.data.DataLoader` takes
one as ``sampler=`` (and groups its indices into batches of ``batch_size``) or a
:class:`BatchSampler` as ``batch_sampler=`` (lists of indices, one per batch).

The random samplers here are reproducible and epoch-based like the loader's own
shuffle: epoch ``e`` draws from ``numpy.random.default_rng([seed, e])``. Every pass over
a sampler uses its current epoch and then advances it, so each epoch gets a new draw;
:meth:`Sampler.set_epoch` picks the epoch explicitly (to resume a run, or, as in PyTorch,
at the start of every epoch). ``DataLoader.set_epoch`` forwards to its sampler.
``generator`` accepts an int seed, a ``numpy.random.SeedSequence`` or ``Generator``
(consumed once, at construction, to draw the seed) or None (OS entropy: not
reproducible). ``RandomSampler(ds, generator=s)`` visits exactly the order of
``DataLoader(ds, shuffle=True, generator=s)``.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from dlx.data._checks import flag, int_arg
from dlx.data._random import SeedLike, check_seed, draw_seed, epoch_rng

__all__ = [
    "BatchSampler",
    "DistributedSampler",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "shard_indices",
]


class Sampler:
    """Base class: subclasses implement :meth:`indices` (the current epoch's indices) and
    ``__len__``; iterating yields those indices as ints and advances the epoch."""

    epoch: int = 0

    def indices(self) -> np.ndarray:
        """The indices of the current epoch as an int array (does not advance the epoch)."""
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass use epoch ``epoch``'s draw (then advance from there)."""
        self.epoch = check_seed(epoch, "epoch", f"{type(self).__name__}.set_epoch")

    def _next_epoch(self) -> np.ndarray:
        """The current epoch's indices, advancing the epoch (what one pass consumes)."""
        out = self.indices()
        self.epoch += 1
        return out

    def __iter__(self) -> Iterator[int]:
        return iter(self._next_epoch().tolist())


class SequentialSampler(Sampler):
    """``0, 1, ..., len(data_source) - 1``, every epoch."""

    def __init__(self, data_source: Any) -> None:
        self.data_source = data_source

    def indices(self) -> np.ndarray:
        return np.arange(len(self.data_source))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random order of the samples each epoch, or draws with replacement.

    Parameters
    ----------
    data_source : sized
        The dataset (only its length is used).
    replacement : bool
        Draw ``num_samples`` indices uniformly with replacement (a bootstrap resample per
        epoch when ``num_samples`` is the dataset size).
    num_samples : int, optional
        Indices per epoch (default: the dataset size). Without replacement a value above
        the dataset size chains whole permutations, then part of one, as PyTorch does.
    generator : int, SeedSequence, Generator or None
        The seed (see the module docstring).
    """

    def __init__(
        self,
        data_source: Any,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: SeedLike = None,
    ) -> None:
        self.data_source = data_source
        self.replacement = flag(replacement, "replacement", "RandomSampler")
        self._num_samples = (
            None if num_samples is None else int_arg(num_samples, "num_samples", "RandomSampler", 0)
        )
        self.seed = draw_seed(generator, "generator", "RandomSampler")
        self.epoch = 0

    @property
    def num_samples(self) -> int:
        """Indices per epoch."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def indices(self) -> np.ndarray:
        n, k = len(self.data_source), self.num_samples
        rng = epoch_rng(self.seed, self.epoch)
        if k and not n:
            msg = f"RandomSampler: cannot draw {k} samples from an empty data source"
            raise ValueError(msg)
        if k == 0:
            return np.arange(0)
        if self.replacement:
            return rng.integers(0, n, size=k)
        if k == n:
            return rng.permutation(n)
        return np.concatenate([rng.permutation(n) for _ in range(-(-k // n))])[:k]

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a new random order each epoch (without replacement)."""

    def __init__(self, indices: Sequence[int] | np.ndarray, generator: SeedLike = None) -> None:
        self._subset = _index_array(indices, "indices", "SubsetRandomSampler")
        self.seed = draw_seed(generator, "generator", "SubsetRandomSampler")
        self.epoch = 0

    def indices(self) -> np.ndarray:
        return self._subset[epoch_rng(self.seed, self.epoch).permutation(self._subset.size)]

    def __len__(self) -> int:
        return int(self._subset.size)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``.

    Parameters
    ----------
    weights : sequence of float
        One non-negative, finite weight per sample (they need not sum to 1); at least one
        must be positive.
    num_samples : int
        Indices per epoch.
    replacement : bool
        With replacement (default, PyTorch's default too) every draw uses the same
        probabilities; without it each index appears at most once (successive weighted
        draws), so ``num_samples`` cannot exceed the number of positive weights.
    generator : int, SeedSequence, Generator or None
        The seed (see the module docstring).
    """

    def __init__(
        self,
        weights: Sequence[float] | np.ndarray,
        num_samples: int,
        replacement: bool = True,
        generator: SeedLike = None,
    ) -> None:
        cls = "WeightedRandomSampler"
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1 or w.size == 0 or not np.all(np.isfinite(w)) or np.any(w < 0):
            msg = f"{cls}: `weights` must be a non-empty 1-D sequence of finite numbers >= 0, got shape {w.shape}"
            raise ValueError(msg)
        if not w.sum() > 0:
            msg = f"{cls}: `weights` must contain at least one positive weight"
            raise ValueError(msg)
        self.weights = w
        self.num_samples = int_arg(num_samples, "num_samples", cls, 0)
        self.replacement = flag(replacement, "replacement", cls)
        positive = int(np.count_nonzero(w))
        if not self.replacement and self.num_samples > positive:
            msg = (
                f"{cls}: without replacement `num_samples` must be at most the number of "
                f"positive weights ({positive}), got {self.num_samples}"
            )
            raise ValueError(msg)
        self._p = w / w.sum()
        self.seed = draw_seed(generator, "generator", cls)
        self.epoch = 0

    def indices(self) -> np.ndarray:
        rng = epoch_rng(self.seed, self.epoch)
        return rng.choice(self._p.size, size=self.num_samples, replace=self.replacement, p=self._p)

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler:
    """Group the indices of ``sampler`` into lists of ``batch_size`` (PyTorch's BatchSampler).

    Parameters
    ----------
    sampler : Sampler or iterable of int
        The indices, in order.
    batch_size : int
        Indices per batch (positive).
    drop_last : bool
        Drop the final batch when it is shorter than ``batch_size``.
    """

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        self.sampler = sampler
        self.batch_size = int_arg(batch_size, "batch_size", "BatchSampler", 1)
        self.drop_last = flag(drop_last, "drop_last", "BatchSampler")

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for i in self.sampler:
            batch.append(int(i))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Forward to the wrapped sampler (when it has epochs)."""
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)


def shard_indices(order: np.ndarray, rank: int, world_size: int, drop_last: bool) -> np.ndarray:
    """Rank ``rank``'s strided shard of ``order``, padded by wrapping (or truncated) to ``W | len``."""
    _check_rank(rank, world_size)
    n = len(order)
    if drop_last:
        total = (n // world_size) * world_size
        order = order[:total]
    else:
        total = -(-n // world_size) * world_size
        if total > n:  # n >= 1 here; wrap around (repeatedly if n < world_size)
            order = np.resize(order, total)
    return order[rank:total:world_size]


# Rank and world size as MPI launchers (Open MPI, MPICH/PMI, PMIx) export them.
_LAUNCHER_ENV = (
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
    ("PMIX_RANK", "PMIX_SIZE"),
    ("PMI_RANK", "PMI_SIZE"),
)


def _default_world() -> tuple[int, int]:
    """``(rank, world_size)`` of this process when the caller gives none: the process
    group's when ``dlx.distributed`` has initialised one, else the MPI launcher's
    environment, else a world of one. (dlx.data sits below dlx.distributed, so it reads
    the group without importing it.)"""
    import os
    import sys

    mpi = sys.modules.get("dlx.distributed._mpi")
    if mpi is not None and mpi.is_initialized():
        return mpi.get_rank(), mpi.get_world_size()
    for rank_var, size_var in _LAUNCHER_ENV:
        rank, size = os.environ.get(rank_var), os.environ.get(size_var)
        if rank is not None and size is not None and rank.isdigit() and size.isdigit():
            return int(rank), int(size)
    return 0, 1


class DistributedSampler(Sampler):
    """The indices rank ``rank`` of ``num_replicas`` visits in each epoch (PyTorch's interface).

    Every rank draws the same permutation (``default_rng([seed, epoch])``, the loader's
    shuffle), makes its length a multiple of the world size (padding by wrapping around to
    the start of the order, or dropping the tail with ``drop_last=True``) and takes the
    strided shard ``rank, rank + W, rank + 2W, ...``: all shards have the same length, and
    batch ``k`` of the ``W`` ranks together holds the samples of batch ``k`` of one process
    with ``W`` times the batch size. Use it as ``DataLoader(ds, sampler=...)``; as in
    PyTorch, ``shuffle`` belongs to the sampler then, not the loader.

    Parameters
    ----------
    dataset : sized or int
        The dataset (only its length is used), or that length.
    num_replicas, rank : int, optional
        World size and this rank (default: the group `dlx.distributed.init()` joined, else
        the MPI launcher's environment variables, else a world of one).
    shuffle : bool
        A new permutation each epoch (the same on every rank).
    seed : int
        The shuffling seed; must be equal on every rank.
    drop_last : bool
        Drop the tail that does not divide evenly instead of padding by wrapping around.

    Attributes
    ----------
    num_samples : int
        Indices per rank and epoch (``len(sampler)``).
    total_size : int
        ``num_samples * num_replicas``.

    Notes
    -----
    Call ``set_epoch(epoch)`` on every rank at the start of each epoch, as in PyTorch; unlike
    PyTorch's sampler, forgetting it does not repeat the first epoch's order, because each
    pass advances the epoch by itself (calling it gives the same orders either way).
    """

    def __init__(
        self,
        dataset: Any,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if num_replicas is None or rank is None:
            r, w = _default_world()
            rank = r if rank is None else rank
            num_replicas = w if num_replicas is None else num_replicas
        _check_rank(rank, num_replicas)
        if isinstance(dataset, int | np.integer) and not isinstance(dataset, bool):
            self.dataset: Any = None
            self.dataset_size = int_arg(dataset, "dataset", "DistributedSampler", 0)
        elif hasattr(dataset, "__len__"):
            self.dataset, self.dataset_size = dataset, len(dataset)
        else:
            msg = f"DistributedSampler: `dataset` must be a sized dataset or its length, got {type(dataset).__name__}"
            raise TypeError(msg)
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.shuffle = flag(shuffle, "shuffle", "DistributedSampler")
        self.seed = check_seed(seed, "seed", "DistributedSampler")
        self.drop_last = flag(drop_last, "drop_last", "DistributedSampler")
        self.epoch = 0

    @property
    def num_samples(self) -> int:
        n, w = self.dataset_size, self.num_replicas
        return n // w if self.drop_last else -(-n // w)

    @property
    def total_size(self) -> int:
        return self.num_samples * self.num_replicas

    def __len__(self) -> int:
        return self.num_samples

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch."""
        if self.shuffle:
            order = epoch_rng(self.seed, self.epoch).permutation(self.dataset_size)
        else:
            order = np.arange(self.dataset_size)
        return shard_indices(order, self.rank, self.num_replicas, self.drop_last)


def epoch_indices(sampler: Any) -> np.ndarray:
    """One pass over ``sampler`` as an int array (dlx samplers without a Python-int loop)."""
    if isinstance(sampler, Sampler):
        out = np.asarray(sampler._next_epoch())
    else:
        out = np.fromiter((operator.index(i) for i in sampler), dtype=np.intp)
    if out.size and not np.issubdtype(out.dtype, np.integer):
        msg = f"sampler: indices must be integers, got dtype {out.dtype}"
        raise TypeError(msg)
    return out.astype(np.intp, copy=False)


def _check_rank(rank: Any, world_size: Any) -> None:
    ok = isinstance(world_size, int | np.integer) and world_size >= 1
    if not ok:
        msg = f"`world_size` must be a positive int, got {world_size!r}"
        raise ValueError(msg)
    if not (isinstance(rank, int | np.integer) and 0 <= rank < world_size):
        msg = f"`rank` must be an int in [0, {world_size}), got {rank!r}"
        raise ValueError(msg)


def _index_array(indices: Any, name: str, cls: str) -> np.ndarray:
    idx = np.asarray(indices)
    if idx.ndim != 1 or not (idx.size == 0 or np.issubdtype(idx.dtype, np.integer)):
        msg = f"{cls}: `{name}` must be a 1-D sequence of ints, got shape {idx.shape} {idx.dtype}"
        raise ValueError(msg)
    return idx.astype(np.intp, copy=False)
