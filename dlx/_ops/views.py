"""More views (no copy, sharing the input's memory and version counter, as in PyTorch):
narrow/select, chunk/split/unbind, t/mT/swapaxes/movedim, view_as/reshape_as/unflatten.

All are slices, reshapes or permutations of ``dlx._ops.shape``, so an in-place op on the
result is recorded against the input (see ``dlx._ops.inplace``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlx._ops._common import as_tensor
from dlx._ops.shape import Index, Permute, reshape
from dlx._validation import as_int, normalize_axis, shape_str

__all__ = [
    "chunk",
    "mT",
    "movedim",
    "narrow",
    "reshape_as",
    "select",
    "split",
    "swapaxes",
    "t",
    "unbind",
    "unflatten",
    "view_as",
]


def _slice(x: Any, d: int, start: int, stop: int) -> Any:
    return Index.apply(x, key=(slice(None),) * d + (slice(start, stop),), scatter=False)


def narrow(input: Any, dim: int, start: Any, length: int) -> Any:
    """Elements ``start .. start + length - 1`` along ``dim`` (a view)."""
    x = as_tensor(input)
    d = normalize_axis(dim, x.ndim, "dim")
    n = x.shape[d]
    s = as_int(start, "start")
    s = s + n if s < 0 else s
    m = as_int(length, "length")
    if not (0 <= s <= n and 0 <= m <= n - s):
        msg = f"narrow: `start` {start} and `length` {length} exceed dimension {d} of size {n}"
        raise ValueError(msg)
    return _slice(x, d, s, s + m)


def select(input: Any, dim: int, index: int) -> Any:
    """The slice at ``index`` along ``dim``, without that dimension (a view)."""
    x = as_tensor(input)
    d = normalize_axis(dim, x.ndim, "dim")
    i = as_int(index, "index")
    n = x.shape[d]
    if not -n <= i < n:
        msg = f"select: `index` must be in [{-n}, {n}) for dimension {d}, got {i}"
        raise ValueError(msg)
    return Index.apply(x, key=(slice(None),) * d + (i, Ellipsis), scatter=False)


def split(tensor: Any, split_size_or_sections: Any, dim: int = 0) -> tuple[Any, ...]:
    """Views of ``split_size`` elements along ``dim`` (the last may be shorter), or of the
    given section sizes (which must add up to the dimension)."""
    x = as_tensor(tensor)
    d = normalize_axis(dim, x.ndim, "dim")
    n = x.shape[d]
    s = split_size_or_sections
    if isinstance(s, Sequence | np.ndarray):
        sizes = [as_int(v, "split_size_or_sections") for v in s]
        if any(v < 0 for v in sizes) or sum(sizes) != n:
            msg = (
                f"split: section sizes must be non-negative and add up to {n} (dimension {d}), "
                f"got {list(sizes)}"
            )
            raise ValueError(msg)
    else:
        size = as_int(s, "split_size_or_sections")
        if size <= 0 and n:
            msg = f"split: `split_size_or_sections` must be positive, got {size}"
            raise ValueError(msg)
        sizes = [min(size, n - i) for i in range(0, n, size)] if n else [0]
    bounds = np.cumsum([0, *sizes]).tolist()
    return tuple(_slice(x, d, bounds[i], bounds[i + 1]) for i in range(len(sizes)))


def chunk(input: Any, chunks: int, dim: int = 0) -> tuple[Any, ...]:
    """At most ``chunks`` views of ``ceil(n / chunks)`` elements along ``dim``."""
    x = as_tensor(input)
    c = as_int(chunks, "chunks")
    if c <= 0:
        msg = f"chunk: `chunks` must be positive, got {c}"
        raise ValueError(msg)
    n = x.shape[normalize_axis(dim, x.ndim, "dim")]
    return split(x, max(-(-n // c), 1), dim)


def unbind(input: Any, dim: int = 0) -> tuple[Any, ...]:
    """The slices along ``dim``, each without that dimension (views)."""
    x = as_tensor(input)
    d = normalize_axis(dim, x.ndim, "dim")
    lead = (slice(None),) * d
    return tuple(Index.apply(x, key=(*lead, i, Ellipsis), scatter=False) for i in range(x.shape[d]))


def t(input: Any) -> Any:
    """Transpose of a matrix (0-D and 1-D tensors are returned as they are)."""
    x = as_tensor(input)
    if x.ndim > 2:
        msg = f"t: `input` must be at most 2-D, got {x.ndim}-D (use transpose or mT)"
        raise ValueError(msg)
    return x if x.ndim < 2 else Permute.apply(x, perm=(1, 0))


def mT(input: Any) -> Any:
    """The last two dimensions swapped (batched matrix transpose)."""
    x = as_tensor(input)
    if x.ndim < 2:
        msg = f"mT: `input` must be at least 2-D, got {x.ndim}-D"
        raise ValueError(msg)
    perm = (*range(x.ndim - 2), x.ndim - 1, x.ndim - 2)
    return Permute.apply(x, perm=perm)


def swapaxes(input: Any, axis0: int, axis1: int) -> Any:
    """Exchange two dimensions (NumPy's name for ``transpose``)."""
    from dlx._ops.shape import transpose

    return transpose(input, axis0, axis1)


def movedim(input: Any, source: Any, destination: Any) -> Any:
    """Move dimensions ``source`` to positions ``destination``, keeping the others' order."""
    x = as_tensor(input)
    src = source if isinstance(source, Sequence) else (source,)
    dst = destination if isinstance(destination, Sequence) else (destination,)
    if len(src) != len(dst):
        msg = f"movedim: `source` and `destination` must have the same length, got {source} and {destination}"
        raise ValueError(msg)
    s = [normalize_axis(a, x.ndim, "source") for a in src]
    e = [normalize_axis(a, x.ndim, "destination") for a in dst]
    if len(set(s)) != len(s) or len(set(e)) != len(e):
        msg = f"movedim: repeated dimensions in {source} or {destination}"
        raise ValueError(msg)
    rest = iter(i for i in range(x.ndim) if i not in s)
    where = dict(zip(e, s, strict=True))
    perm = tuple(where[i] if i in where else next(rest) for i in range(x.ndim))
    return Permute.apply(x, perm=perm)


moveaxis = movedim


def view_as(input: Any, other: Any) -> Any:
    """``input.view(other.shape)``."""
    from dlx._ops.shape import view

    return view(input, tuple(other.shape))


def reshape_as(input: Any, other: Any) -> Any:
    """``input.reshape(other.shape)``."""
    return reshape(input, tuple(other.shape))


def unflatten(input: Any, dim: int, sizes: Sequence[int]) -> Any:
    """Split dimension ``dim`` into ``sizes`` (one of them may be -1)."""
    x = as_tensor(input)
    d = normalize_axis(dim, x.ndim, "dim")
    s = [as_int(v, "sizes") for v in sizes]
    n = x.shape[d]
    known = int(np.prod([v for v in s if v != -1], dtype=np.int64))
    if s.count(-1) > 1 or (s.count(-1) == 0 and known != n) or (known and n % known):
        msg = f"unflatten: `sizes` {list(sizes)} do not fit dimension {d} of size {n} in {shape_str(x.shape)}"
        raise ValueError(msg)
    s = [n // known if v == -1 else v for v in s]
    return reshape(x, (*x.shape[:d], *s, *x.shape[d + 1 :]))
