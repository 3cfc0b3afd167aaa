"""Datasets: the abstract interface, arrays as a dataset, subsets and random splits."""

from __future__ import annotations

import abc
import itertools
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from dlx.data._random import SeedLike, as_generator, draw_seed, epoch_rng

__all__ = [
    "Dataset",
    "Subset",
    "TensorDataset",
    "bootstrap",
    "default_collate",
    "random_split",
    "train_val_split",
]


class Dataset(abc.ABC):
    """A sized collection of samples, indexed by ``0 <= i < len(dataset)``.

    Subclasses implement ``__getitem__(i)`` (one sample: an array, or a tuple of arrays
    such as ``(x, y)``) and ``__len__``. They may also override :meth:`get_batch` to
    gather many samples at once; :class:`~dlx.data.DataLoader` calls it, and the default
    simply loops over ``__getitem__`` and stacks with :func:`default_collate`.
    """

    @abc.abstractmethod
    def __getitem__(self, index: int) -> Any:
        """Return sample ``index``."""

    @abc.abstractmethod
    def __len__(self) -> int:
        """Return the number of samples."""

    def get_batch(self, indices: np.ndarray) -> Any:
        """Return the samples at ``indices`` stacked along a new first axis.

        Must agree with ``default_collate([self[i] for i in indices])``.
        """
        return default_collate([self[int(i)] for i in indices])


class TensorDataset(Dataset):
    """Samples are the rows of one or more arrays with the same first dimension.

    ``dataset[i]`` is ``(arrays[0][i], arrays[1][i], ...)`` (a tuple even for a single
    array, as in PyTorch), and :meth:`get_batch` gathers a whole batch with one fancy
    index per array, with no per-sample Python loop.

    Parameters
    ----------
    *arrays : array_like
        At least one array; each is converted with ``numpy.asarray`` (no copy when it
        already is an array) and must have ``ndim >= 1``.

    Examples
    --------
    >>> ds = TensorDataset(np.zeros((100, 1, 8, 8), np.float32), np.arange(100))
    >>> x, y = ds[3]
    >>> x.shape, int(y)
    ((1, 8, 8), 3)
    """

    def __init__(self, *arrays: Any) -> None:
        from dlx.tensor import Tensor

        if not arrays:
            msg = "TensorDataset: expected at least one array"
            raise ValueError(msg)
        # Made from Tensors (PyTorch's TensorDataset(x, y)): samples and DataLoader batches
        # are Tensors too, as in PyTorch. Made from arrays: arrays.
        self.yields_tensors = all(isinstance(a, Tensor) for a in arrays)
        self.arrays = tuple(
            a.detach().numpy() if isinstance(a, Tensor) else np.asarray(a) for a in arrays
        )
        shapes = [a.shape for a in self.arrays]
        if any(len(s) == 0 for s in shapes):
            msg = (
                f"TensorDataset: every array needs a first (sample) dimension, got shapes {shapes}"
            )
            raise ValueError(msg)
        if len({s[0] for s in shapes}) != 1:
            msg = (
                f"TensorDataset: all arrays must have the same first dimension, got shapes {shapes}"
            )
            raise ValueError(msg)

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        i = _check_index(index, len(self), "TensorDataset")
        sample = tuple(a[i] for a in self.arrays)
        return as_tensors(sample) if self.yields_tensors else sample

    def __len__(self) -> int:
        return int(self.arrays[0].shape[0])

    def get_batch(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        """Return ``tuple(np.take(a, indices, axis=0) for a in arrays)`` (new arrays; the
        DataLoader wraps them in Tensors when the dataset was made from Tensors)."""
        return tuple(np.take(a, indices, axis=0) for a in self.arrays)

    def __repr__(self) -> str:
        parts = ", ".join(f"{a.dtype}{list(a.shape)}" for a in self.arrays)
        return f"TensorDataset({parts})"


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Any, indices: Sequence[int] | np.ndarray) -> None:
        idx = np.asarray(indices)
        if idx.ndim != 1 or not (idx.size == 0 or np.issubdtype(idx.dtype, np.integer)):
            msg = f"Subset: `indices` must be a 1-D sequence of ints, got shape {idx.shape} {idx.dtype}"
            raise ValueError(msg)
        n = len(dataset)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            msg = f"Subset: `indices` must lie in [-{n}, {n}), got [{idx.min()}, {idx.max()}]"
            raise IndexError(msg)
        self.dataset = dataset
        self.indices = idx.astype(np.intp) % max(n, 1)

    def __getitem__(self, index: int) -> Any:
        i = _check_index(index, len(self), "Subset")
        return self.dataset[int(self.indices[i])]

    def __len__(self) -> int:
        return int(self.indices.size)

    @property
    def yields_tensors(self) -> bool:
        """Whether the underlying dataset gives Tensors (a TensorDataset of Tensors)."""
        return bool(getattr(self.dataset, "yields_tensors", False))

    def get_batch(self, indices: np.ndarray) -> Any:
        return gather(self.dataset, self.indices[indices])

    def __repr__(self) -> str:
        return f"Subset({self.dataset!r}, {len(self)} samples)"


def as_tensors(batch: Any) -> Any:
    """``batch`` with its arrays (alone, or in tuples and lists) wrapped as Tensors (no copy)."""
    from dlx.tensor import Tensor

    if isinstance(batch, tuple | list):
        return type(batch)(as_tensors(b) for b in batch)
    if isinstance(batch, np.ndarray | np.generic) and np.asarray(batch).dtype.kind in "biuf":
        return Tensor(np.asarray(batch))
    return batch


def gather(
    dataset: Any, indices: np.ndarray, collate: Callable[[list[Any]], Any] | None = None
) -> Any:
    """Batch ``indices`` of ``dataset``: its ``get_batch`` when it has one and no ``collate``
    is given, else ``collate`` (default :func:`default_collate`) over per-sample items."""
    get_batch = getattr(dataset, "get_batch", None)
    if collate is None and get_batch is not None:
        return get_batch(indices)
    return (collate or default_collate)([dataset[int(i)] for i in indices])


def default_collate(samples: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch, mirroring the sample structure.

    Tuples and lists of fields become a tuple of stacked arrays (one per field),
    mappings a dict of stacked arrays, and anything else one stacked array.
    """
    if len(samples) == 0:
        msg = "default_collate: cannot collate an empty list of samples"
        raise ValueError(msg)
    first = samples[0]
    if isinstance(first, tuple | list):
        if any(len(s) != len(first) for s in samples):
            msg = "default_collate: samples have different numbers of fields"
            raise ValueError(msg)
        return tuple(np.stack([s[k] for s in samples]) for k in range(len(first)))
    if isinstance(first, Mapping):
        return {key: np.stack([s[key] for s in samples]) for key in first}
    return np.stack([np.asarray(s) for s in samples])


def random_split(
    dataset: Any, lengths: Sequence[int] | Sequence[float], seed: SeedLike = 0
) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random subsets.

    Parameters
    ----------
    dataset : Dataset or sized, indexable object
        The samples to split.
    lengths : sequence of int or of float
        Either the subset sizes (summing to ``len(dataset)``) or fractions summing to 1.
        Fractions are floored and the remaining samples handed out one by one to the
        first subsets, as ``torch.utils.data.random_split`` does.
    seed : int, SeedSequence, Generator or None
        Randomness of the permutation (default 0: the same split every time).

    Returns
    -------
    list of Subset
    """
    n = len(dataset)
    sizes = _split_sizes(n, lengths, "random_split")
    perm = as_generator(seed, "seed", "random_split").permutation(n)
    bounds = np.cumsum([0, *sizes])
    return [Subset(dataset, perm[a:b]) for a, b in itertools.pairwise(bounds)]


def bootstrap(
    dataset: Any,
    n_bags: int,
    num_samples: float | None = None,
    seed: SeedLike = 0,
) -> list[tuple[Subset, Subset]]:
    """Bootstrap resamples of ``dataset`` for a bagging ensemble, with their out-of-bag parts.

    Bag ``b`` draws ``num_samples`` indices uniformly with replacement from
    ``numpy.random.default_rng([seed, b])``, so each bag depends only on the seed and its
    number (asking for more bags keeps the first ones). Train model ``b`` on the in-bag
    subset and, if wanted, estimate its error on the out-of-bag one (the samples it never
    saw: about 36.8% of them for ``num_samples = len(dataset)``); average the models'
    predictions.

    Parameters
    ----------
    dataset : Dataset or sized, indexable object
        The samples.
    n_bags : int
        Number of resamples (models), positive.
    num_samples : int or float, optional
        In-bag size: a count, or a fraction in (0, 1] of the dataset size (default: the
        dataset size).
    seed : int, SeedSequence, Generator or None
        Randomness of the bags (default 0). A Generator or SeedSequence is consumed once.

    Returns
    -------
    list of (Subset, Subset)
        ``(in_bag, out_of_bag)`` per bag; ``in_bag`` may repeat samples, ``out_of_bag``
        holds each remaining sample once, in index order.

    Examples
    --------
    >>> bags = bootstrap(TensorDataset(x, y), n_bags=5, seed=0)  # doctest: +SKIP
    >>> models = [fit(make_model(), loss, opt, in_bag, validation_data=oob) for in_bag, oob in bags]  # doctest: +SKIP
    """
    n = len(dataset)
    if isinstance(n_bags, bool) or not isinstance(n_bags, int | np.integer) or n_bags < 1:
        msg = f"bootstrap: `n_bags` must be a positive int, got {n_bags!r}"
        raise ValueError(msg)
    k = _bag_size(num_samples, n)
    base = draw_seed(seed, "seed", "bootstrap")
    bags = []
    for b in range(int(n_bags)):
        picks = epoch_rng(base, b).integers(0, n, size=k)
        seen = np.zeros(n, dtype=bool)
        seen[picks] = True
        bags.append((Subset(dataset, picks), Subset(dataset, np.flatnonzero(~seen))))
    return bags


def _bag_size(num_samples: float | None, n: int) -> int:
    if n == 0:
        msg = "bootstrap: cannot resample an empty dataset"
        raise ValueError(msg)
    if num_samples is None:
        return n
    if isinstance(num_samples, int | np.integer) and not isinstance(num_samples, bool):
        if num_samples < 1:
            msg = f"bootstrap: `num_samples` must be a positive count or a fraction in (0, 1], got {num_samples}"
            raise ValueError(msg)
        return int(num_samples)
    if isinstance(num_samples, float | np.floating) and 0.0 < num_samples <= 1.0:
        return max(1, round(float(num_samples) * n))
    msg = f"bootstrap: `num_samples` must be a positive count or a fraction in (0, 1], got {num_samples!r}"
    raise ValueError(msg)


def train_val_split(
    x: Any, y: Any = None, val_fraction: float = 0.2, seed: SeedLike = 0
) -> tuple[Any, Any]:
    """Shuffle and split arrays into a training and a validation part.

    Returns ``((x_train, y_train), (x_val, y_val))``, or ``(x_train, x_val)`` when ``y``
    is None. The split is exactly that of
    ``random_split(TensorDataset(x, y), [1 - val_fraction, val_fraction], seed)``.

    Parameters
    ----------
    x, y : array_like
        Inputs and (optional) targets with the same first dimension.
    val_fraction : float
        Fraction of samples for validation, in (0, 1); both parts must be non-empty.
    seed : int, SeedSequence, Generator or None
        Randomness of the shuffle (default 0).
    """
    arrays = (np.asarray(x),) if y is None else (np.asarray(x), np.asarray(y))
    n = len(TensorDataset(*arrays))
    if not 0.0 < float(val_fraction) < 1.0:
        msg = f"train_val_split: `val_fraction` must be in (0, 1), got {val_fraction}"
        raise ValueError(msg)
    n_train, n_val = _split_sizes(n, [1.0 - val_fraction, val_fraction], "train_val_split")
    if n_train == 0 or n_val == 0:
        msg = (
            f"train_val_split: `val_fraction`={val_fraction} of {n} samples leaves "
            f"{n_train} for training and {n_val} for validation; both must be non-empty"
        )
        raise ValueError(msg)
    perm = as_generator(seed, "seed", "train_val_split").permutation(n)
    train = tuple(np.take(a, perm[:n_train], axis=0) for a in arrays)
    val = tuple(np.take(a, perm[n_train:], axis=0) for a in arrays)
    if y is None:
        return train[0], val[0]
    return train, val


def _split_sizes(n: int, lengths: Sequence[int] | Sequence[float], fn: str) -> list[int]:
    """Subset sizes from counts (summing to n) or fractions (summing to 1)."""
    values = list(lengths)
    if not values:
        msg = f"{fn}: `lengths` must not be empty"
        raise ValueError(msg)
    if all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in values):
        sizes = [int(v) for v in values]
        if min(sizes) < 0 or sum(sizes) != n:
            msg = (
                f"{fn}: `lengths` must be non-negative and sum to the dataset size {n}, got {sizes}"
            )
            raise ValueError(msg)
        return sizes
    fractions = [float(v) for v in values]
    if min(fractions) < 0 or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        msg = f"{fn}: fractional `lengths` must be non-negative and sum to 1, got {values}"
        raise ValueError(msg)
    sizes = [math.floor(n * f) for f in fractions]
    for i in range(n - sum(sizes)):
        sizes[i % len(sizes)] += 1
    return sizes


def _check_index(index: int, n: int, cls: str) -> int:
    try:
        i = operator.index(index)
    except TypeError:
        msg = f"{cls}: index must be an int, got {type(index).__name__} (use get_batch for many)"
        raise TypeError(msg) from None
    if not -n <= i < n:
        msg = f"{cls}: index {i} is out of range for {n} samples"
        raise IndexError(msg)
    return i
