"""DataLoader: batches from a dataset, with reproducible per-epoch shuffling and workers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from dlx.data import _loader_args as check
from dlx.data._fetch import fetch
from dlx.data._random import SeedLike, check_seed, draw_seed
from dlx.data.dataset import as_tensors
from dlx.data.sampler import RandomSampler, SequentialSampler, epoch_indices

__all__ = ["DataLoader"]


class DataLoader:
    """Iterate over a dataset in batches, in the main process or in worker processes.

    Each batch is gathered with one ``dataset.get_batch(indices)`` call when the dataset
    has that method (:class:`~dlx.data.TensorDataset` and :class:`~dlx.data.Subset` of
    one: a fancy index per array, no per-sample Python loop), otherwise from
    ``dataset[i]`` per sample, stacked by ``collate_fn``. Batches mirror the samples: a
    tuple of arrays (e.g. ``(x, y)``) for tuple samples, a dict for dict samples, one
    array for array samples.

    Shuffling is reproducible and epoch-based: epoch ``e`` uses the permutation drawn
    from ``numpy.random.default_rng([seed, e])``. Every ``iter(loader)`` (every ``for``
    loop) uses the current epoch and then advances it, so each epoch gets a new order;
    :meth:`set_epoch` picks the epoch explicitly (to resume a run, or to keep several
    processes in step). The order of epoch ``e`` therefore depends only on ``seed`` and
    ``e``, never on how many batches earlier epochs consumed.

    With ``num_workers > 0`` batches are produced by that many processes (started with
    ``spawn``; never ``fork``, which hangs GNU OpenMP) and come back through shared memory,
    in exactly the order of ``num_workers=0``. Each worker reseeds at every epoch from
    (seed, epoch, worker id), so random transforms are reproducible for a given seed and
    worker count, and runs one OpenMP/BLAS thread so the main process keeps the cores.

    Parameters
    ----------
    dataset : Dataset or sized, indexable object
        The samples. Must be picklable when ``num_workers > 0``.
    batch_size : int or None
        Samples per batch (positive, default 1). None puts the whole epoch in one batch
        (full-batch gradient descent; PyTorch's None, "no batching", does not exist here).
    shuffle : bool
        Visit the samples in a new random order each epoch (default: in order).
    drop_last : bool
        Skip the final batch when it is smaller than ``batch_size``.
    generator : int, SeedSequence, Generator or None
        The seed of the shuffle and of the workers. An int is used directly; a Generator or
        SeedSequence is consumed once, here, to draw it; None draws it from OS entropy (not
        reproducible).
    transform, target_transform : callable, optional
        Applied to each batch's first field (the inputs; the whole batch when batches are
        single arrays) and second field (the targets), in the worker when there are workers.
    collate : callable, optional
        The same as ``collate_fn`` (dlx's older name).
    sampler : Sampler or iterable of int, optional
        The indices of each epoch (exclusive with ``shuffle=True``), grouped into batches of
        ``batch_size``; see :mod:`dlx.data.sampler`.
    batch_sampler : iterable of lists of int, optional
        The batches' indices directly (exclusive with ``batch_size``, ``shuffle``,
        ``sampler`` and ``drop_last``), e.g. a :class:`~dlx.data.BatchSampler`.
    num_workers : int
        Worker processes (default 0: batches are made in the main process).
    collate_fn : callable, optional
        Turns a list of samples into a batch; giving one switches to the per-sample path.
        The default :func:`~dlx.data.default_collate` stacks fields.
    pin_memory : bool
        Accepted for PyTorch compatibility; dlx computes on the CPU, there is nothing to pin.
    timeout : float
        Seconds to wait for each batch from the workers before raising RuntimeError
        (default 0: no limit; a worker that dies is detected at once either way). Worker
        start-up (importing, loading the dataset) is allowed at least 120 s.
    worker_init_fn : callable, optional
        Called as ``worker_init_fn(worker_id)`` in each worker after it is seeded, before
        its first batch (e.g. to call ``dlx.set_num_threads``).
    multiprocessing_context : {"spawn", "forkserver"} or context, optional
        How workers start (default spawn). "fork" is refused: see the module docs.
    prefetch_factor : int, optional
        Batches in flight per worker (default 2 with workers).
    persistent_workers : bool
        Keep the workers (and the dataset shared with them) across epochs instead of
        starting new ones for every epoch.

    Examples
    --------
    >>> loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True, generator=0)  # doctest: +SKIP
    >>> for xb, yb in loader:  # doctest: +SKIP
    ...     ...
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool | None = False,
        drop_last: bool = False,
        generator: SeedLike = None,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        collate: Callable[[list[Any]], Any] | None = None,
        *,
        sampler: Any = None,
        batch_sampler: Any = None,
        num_workers: int = 0,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        pin_memory: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], Any] | None = None,
        multiprocessing_context: Any = None,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
    ) -> None:
        from dlx.data._pool import get_context

        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            msg = f"DataLoader: `dataset` must support len() and indexing, got {type(dataset).__name__}"
            raise TypeError(msg)
        self.batch_size = check.batch_size(batch_size)
        self.shuffle = check.flag(shuffle, "shuffle")
        self.drop_last = check.flag(drop_last, "drop_last")
        for name, fn in (("transform", transform), ("target_transform", target_transform)):
            check.callable_or_none(fn, name)
        if collate is not None and collate_fn is not None:
            msg = "DataLoader: got both `collate` and `collate_fn`; they are the same argument"
            raise ValueError(msg)
        self.collate = check.callable_or_none(
            collate if collate is not None else collate_fn, "collate_fn"
        )
        check.iterable_or_none(sampler, "sampler")
        check.iterable_or_none(batch_sampler, "batch_sampler")
        check.combinations(self.batch_size, self.shuffle, self.drop_last, sampler, batch_sampler)
        self.num_workers, self.prefetch_factor, self.persistent_workers = check.workers(
            num_workers, prefetch_factor, persistent_workers
        )
        self.timeout = check.timeout(timeout)
        self.worker_init_fn = check.callable_or_none(worker_init_fn, "worker_init_fn")
        get_context(multiprocessing_context)  # refuses "fork" and unknown methods now
        self.multiprocessing_context = multiprocessing_context
        self.pin_memory = check.flag(pin_memory, "pin_memory")
        self.dataset = dataset
        self.transform = transform
        self.target_transform = target_transform
        self.seed = draw_seed(generator, "generator", "DataLoader")
        self.epoch = 0
        self.batch_sampler = batch_sampler
        self._own_sampler = sampler is None
        if sampler is None:
            sampler = (
                RandomSampler(dataset, generator=self.seed)
                if self.shuffle
                else SequentialSampler(dataset)
            )
        self.sampler = sampler
        self._pool: Any = None  # the persistent workers, once started

    @property
    def collate_fn(self) -> Callable[[list[Any]], Any] | None:
        """The collate function (PyTorch's name for ``collate``)."""
        return self.collate

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration use epoch ``epoch``'s order (then advance from there).

        Forwarded to a ``sampler`` / ``batch_sampler`` that has ``set_epoch``.
        """
        self.epoch = check_seed(epoch, "epoch", "DataLoader.set_epoch")
        targets = [self.batch_sampler] if self._own_sampler else [self.sampler, self.batch_sampler]
        for target in targets:
            if hasattr(target, "set_epoch"):
                target.set_epoch(self.epoch)

    def _num_samples(self) -> int:
        """Samples one epoch draws from (a distributed loader's shard overrides this)."""
        return len(self.sampler)

    def _size(self) -> int:
        """The batch size in effect (None means all the epoch's samples)."""
        return self.batch_size if self.batch_size is not None else max(self._num_samples(), 1)

    def __len__(self) -> int:
        """The number of batches one epoch yields."""
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n, b = self._num_samples(), self._size()
        return n // b if self.drop_last else -(-n // b)

    def _epoch_indices(self, order: np.ndarray) -> np.ndarray:
        """The indices this loader takes from the epoch's order (all of them here)."""
        return order

    def _plan(self, epoch: int) -> tuple[Iterator[np.ndarray], int]:
        """The epoch's batches as index arrays (lazily), and how many there are."""
        if self.batch_sampler is not None:
            bs = self.batch_sampler
            count = len(bs) if hasattr(bs, "__len__") else -1
            return (np.asarray(b, dtype=np.intp).reshape(-1) for b in bs), count
        if self._own_sampler:
            if isinstance(self.sampler, RandomSampler):
                self.sampler.seed = self.seed  # load_state_dict may have changed it
            self.sampler.set_epoch(epoch)
        order = self._epoch_indices(epoch_indices(self.sampler))
        n = len(order)
        size = self.batch_size if self.batch_size is not None else max(n, 1)
        count = n // size if self.drop_last else -(-n // size)
        return (order[k * size : (k + 1) * size] for k in range(count)), count

    def __iter__(self) -> Iterator[Any]:
        epoch = self.epoch
        self.epoch += 1
        batches, count = self._plan(epoch)
        if self.num_workers == 0 or count == 0:
            it = self._serial(batches)
        else:
            it = self._parallel(batches, count, epoch)
        if getattr(self.dataset, "yields_tensors", False):
            return (as_tensors(b) for b in it)  # TensorDataset of Tensors: Tensor batches
        return it

    def _serial(self, batches: Iterator[np.ndarray]) -> Iterator[Any]:
        for indices in batches:
            yield fetch(self.dataset, indices, self.collate, self.transform, self.target_transform)

    def _parallel(self, batches: Iterator[np.ndarray], count: int, epoch: int) -> Iterator[Any]:
        from dlx.data._pool import ParallelIter, WorkerPool, get_context

        pool = self._pool
        if pool is None or pool.closed:
            payload = {
                "dataset": self.dataset,
                "collate": self.collate,
                "transform": self.transform,
                "target_transform": self.target_transform,
                "worker_init_fn": self.worker_init_fn,
            }
            ctx = get_context(self.multiprocessing_context)
            pool = WorkerPool(payload, self.num_workers, self.prefetch_factor, ctx, self.timeout)
            self._pool = pool if self.persistent_workers else None
        return ParallelIter(pool, batches, count, epoch, self.seed, self.persistent_workers)

    def _shutdown_workers(self) -> None:
        """Stop persistent workers now (they also stop when the loader is collected)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __getstate__(self) -> dict[str, Any]:
        # Copies and pickles never share the persistent workers.
        return {**self.__dict__, "_pool": None}

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state: the seed, the next epoch and any transform state.

        Restoring it with :meth:`load_state_dict` (on a loader built the same way)
        reproduces the batches of every following epoch, random transforms included
        (with workers, their streams follow from the seed and the epoch).
        """
        state: dict[str, Any] = {"seed": self.seed, "epoch": self.epoch}
        for name in ("transform", "target_transform"):
            fn = getattr(self, name)
            if hasattr(fn, "state_dict"):
                state[name] = fn.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state taken by :meth:`state_dict`."""
        self.seed = check_seed(state["seed"], "seed", "DataLoader.load_state_dict")
        self.set_epoch(state["epoch"])
        for name in ("transform", "target_transform"):
            if name in state:
                getattr(self, name).load_state_dict(state[name])

    def __repr__(self) -> str:
        workers = f", num_workers={self.num_workers}" if self.num_workers else ""
        return (
            f"DataLoader({self.dataset!r}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
            f"drop_last={self.drop_last}{workers})"
        )
