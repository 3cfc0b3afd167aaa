"""DataLoader: batches from a dataset, with reproducible per-epoch shuffling."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from dlx.data._random import SeedLike, check_seed
from dlx.data.dataset import gather

__all__ = ["DataLoader"]


class DataLoader:
    """Iterate over a dataset in batches.

    Each batch is gathered with one ``dataset.get_batch(indices)`` call when the dataset
    has that method (:class:`~dlx.data.TensorDataset` and :class:`~dlx.data.Subset` of
    one: a fancy index per array, no per-sample Python loop), otherwise from
    ``dataset[i]`` per sample stacked by ``collate``. Batches mirror the samples: a
    tuple of arrays (e.g. ``(x, y)``) for tuple samples, one array for array samples.

    Shuffling is reproducible and epoch-based: epoch ``e`` uses the permutation drawn
    from ``numpy.random.default_rng([seed, e])``. Every ``iter(loader)`` (every ``for``
    loop) uses the current epoch and then advances it, so each epoch gets a new order;
    :meth:`set_epoch` picks the epoch explicitly (to resume a run, or to keep several
    processes in step). The order of epoch ``e`` therefore depends only on ``seed`` and
    ``e``, never on how many batches earlier epochs consumed.

    Parameters
    ----------
    dataset : Dataset or sized, indexable object
        The samples.
    batch_size : int or None
        Samples per batch (positive). None puts the whole dataset in one batch
        (full-batch gradient descent).
    shuffle : bool
        Visit the samples in a new random order each epoch (default: in order).
    drop_last : bool
        Skip the final batch when it is smaller than ``batch_size``.
    generator : int, SeedSequence, Generator or None
        The shuffling seed. An int is used directly; a Generator or SeedSequence is
        consumed once, here, to draw the seed; None draws it from OS entropy (not
        reproducible). Ignored when ``shuffle`` is False.
    transform : callable, optional
        Applied to each batch's first field (the inputs), e.g. a
        :class:`~dlx.data.transforms.Compose` of transforms; to the whole batch when
        batches are single arrays.
    target_transform : callable, optional
        Applied to each batch's second field (the targets), e.g. ``OneHot(10)``.
    collate : callable, optional
        Turns a list of samples into a batch. Giving one switches to the per-sample
        path; the default :func:`~dlx.data.default_collate` stacks fields.

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
        shuffle: bool = False,
        drop_last: bool = False,
        generator: SeedLike = None,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        collate: Callable[[list[Any]], Any] | None = None,
    ) -> None:
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            msg = f"DataLoader: `dataset` must support len() and indexing, got {type(dataset).__name__}"
            raise TypeError(msg)
        if batch_size is not None:
            batch_size = _positive_int(batch_size)
        for name, fn in (
            ("transform", transform),
            ("target_transform", target_transform),
            ("collate", collate),
        ):
            if fn is not None and not callable(fn):
                msg = f"DataLoader: `{name}` must be callable or None, got {type(fn).__name__}"
                raise TypeError(msg)
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.transform = transform
        self.target_transform = target_transform
        self.collate = collate
        if isinstance(generator, np.random.Generator):
            self.seed = int(generator.integers(2**63))
        elif generator is None or isinstance(generator, np.random.SeedSequence):
            self.seed = int(np.random.default_rng(generator).integers(2**63))
        else:
            self.seed = check_seed(generator, "generator", "DataLoader")
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration use epoch ``epoch``'s order (then advance from there)."""
        self.epoch = check_seed(epoch, "epoch", "DataLoader.set_epoch")

    def _num_samples(self) -> int:
        """Samples one epoch draws from (a distributed loader's shard overrides this)."""
        return len(self.dataset)

    def _size(self) -> int:
        """The batch size in effect (None means all the epoch's samples)."""
        return self.batch_size if self.batch_size is not None else max(self._num_samples(), 1)

    def __len__(self) -> int:
        """The number of batches one epoch yields."""
        n, b = self._num_samples(), self._size()
        return n // b if self.drop_last else -(-n // b)

    def _epoch_indices(self, order: np.ndarray) -> np.ndarray:
        """The indices this loader takes from the epoch's order (all of them here)."""
        return order

    def __iter__(self) -> Iterator[Any]:
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(n)
        else:
            order = np.arange(n)
        self.epoch += 1
        return self._batches(self._epoch_indices(order), self._size(), len(self))

    def _batches(self, order: np.ndarray, size: int, count: int) -> Iterator[Any]:
        for k in range(count):
            batch = gather(self.dataset, order[k * size : (k + 1) * size], self.collate)
            yield self._apply_transforms(batch)

    def _apply_transforms(self, batch: Any) -> Any:
        if self.transform is None and self.target_transform is None:
            return batch
        if not isinstance(batch, tuple):
            if self.target_transform is not None:
                msg = (
                    "DataLoader: `target_transform` needs batches of (inputs, targets, ...) tuples"
                )
                raise ValueError(msg)
            return self.transform(batch) if self.transform is not None else batch
        fields = list(batch)
        if self.transform is not None:
            fields[0] = self.transform(fields[0])
        if self.target_transform is not None:
            if len(fields) < 2:
                msg = "DataLoader: `target_transform` needs batches with a second (target) field"
                raise ValueError(msg)
            fields[1] = self.target_transform(fields[1])
        return tuple(fields)

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state: the seed, the next epoch and any transform state.

        Restoring it with :meth:`load_state_dict` (on a loader built the same way)
        reproduces the batches of every following epoch, random transforms included.
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
        return (
            f"DataLoader({self.dataset!r}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
            f"drop_last={self.drop_last})"
        )


def _positive_int(value: object) -> int:
    try:
        if isinstance(value, bool):
            raise TypeError
        b = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        msg = f"DataLoader: `batch_size` must be a positive int or None, got {value!r}"
        raise TypeError(msg) from None
    if b <= 0:
        msg = f"DataLoader: `batch_size` must be a positive int or None, got {b}"
        raise ValueError(msg)
    return b
