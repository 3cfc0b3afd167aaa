"""Random sampling: randint, rand_like/randn_like/randint_like, randperm, multinomial,
bernoulli, normal, and the in-place fills ``uniform_``, ``normal_``, ``bernoulli_``,
``random_``.

Samples come from ``generator`` (a ``dlx.Generator`` or ``numpy.random.Generator``) or from
the default generator that ``dlx.manual_seed`` seeds. The streams differ from PyTorch's, so
seeded results are reproducible within dlx only. Samples are not differentiable.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx import _dtype
from dlx._autograd import TensorBase
from dlx._ops._common import as_tensor, value
from dlx._ops.creation import leaf
from dlx._ops.inplace import copy_
from dlx._random import resolve_generator
from dlx._validation import as_int, as_shape, non_negative_int, shape_str

__all__ = [
    "bernoulli",
    "bernoulli_",
    "multinomial",
    "normal",
    "normal_",
    "rand_like",
    "randint",
    "randint_like",
    "randn_like",
    "random_",
    "randperm",
    "uniform_",
]


def _float_dtype(dtype: Any, default: Any = None) -> np.dtype:
    dt = _dtype.as_dtype(dtype) if dtype is not None else (default or _dtype.default_float)
    if dt.kind != "f":
        msg = f"`dtype` must be a floating dtype for this distribution, got {dt}"
        raise TypeError(msg)
    return dt


def randint(
    *args: Any,
    size: Any = None,
    generator: Any = None,
    dtype: Any = None,
    requires_grad: bool = False,
    device: Any = None,
) -> Any:
    """Integers uniform in ``[low, high)``: ``randint(high, size)`` or
    ``randint(low, high, size)`` (int64 unless ``dtype``)."""
    if size is None and args and isinstance(args[-1], tuple | list):
        *args, size = args  # type: ignore[assignment]
    if size is None or len(args) not in (1, 2):
        msg = "randint: call as randint(high, size) or randint(low, high, size)"
        raise TypeError(msg)
    low, high = (0, args[0]) if len(args) == 1 else args
    lo, hi = as_int(low, "low"), as_int(high, "high")
    if hi <= lo:
        msg = f"randint: `high` must be greater than `low`, got low={lo}, high={hi}"
        raise ValueError(msg)
    dt = _dtype.int64 if dtype is None else _dtype.as_dtype(dtype)
    out = resolve_generator(generator).integers(lo, hi, as_shape((size,), "size"))
    return leaf(out.astype(dt), requires_grad, device)


def randint_like(input: Any, low: int = 0, high: int | None = None, **kw: Any) -> Any:
    """``randint`` with ``input``'s shape (and dtype unless given)."""
    if high is None:
        low, high = 0, low
    kw.setdefault("dtype", input.dtype)
    return randint(low, high, tuple(input.shape), **kw)


def _like(input: Any, dtype: Any, generator: Any, requires_grad: bool, device: Any, normal: bool):
    dt = _float_dtype(dtype, input.dtype if input.dtype.kind == "f" else None)
    rng = resolve_generator(generator)
    out = (
        rng.standard_normal(input.shape, dtype=dt) if normal else rng.random(input.shape, dtype=dt)
    )
    return leaf(out, requires_grad, device)


def rand_like(
    input: Any,
    dtype: Any = None,
    *,
    generator: Any = None,
    requires_grad: bool = False,
    device: Any = None,
) -> Any:
    """Uniform samples in [0, 1) with ``input``'s shape and (floating) dtype."""
    return _like(input, dtype, generator, requires_grad, device, normal=False)


def randn_like(
    input: Any,
    dtype: Any = None,
    *,
    generator: Any = None,
    requires_grad: bool = False,
    device: Any = None,
) -> Any:
    """Standard normal samples with ``input``'s shape and (floating) dtype."""
    return _like(input, dtype, generator, requires_grad, device, normal=True)


def randperm(
    n: int,
    *,
    generator: Any = None,
    dtype: Any = None,
    requires_grad: bool = False,
    device: Any = None,
) -> Any:
    """A random permutation of ``0 .. n-1`` (int64 unless ``dtype``)."""
    m = non_negative_int(n, "n")
    dt = _dtype.int64 if dtype is None else _dtype.as_dtype(dtype)
    return leaf(resolve_generator(generator).permutation(m).astype(dt), requires_grad, device)


def multinomial(
    input: Any, num_samples: int, replacement: bool = False, *, generator: Any = None
) -> Any:
    """Category indices drawn by the non-negative weights in each row of ``input`` (1-D or
    2-D); without replacement each category is drawn at most once."""
    w = np.asarray(value(as_tensor(input)), dtype=np.float64)
    if w.ndim not in (1, 2):
        msg = f"multinomial: `input` must be 1-D or 2-D, got shape {shape_str(w.shape)}"
        raise ValueError(msg)
    rows = w.reshape(-1, w.shape[-1])
    k = non_negative_int(num_samples, "num_samples")
    if not np.isfinite(rows).all() or (rows < 0).any() or (rows.sum(axis=1) <= 0).any():
        msg = "multinomial: `input` rows must be finite, non-negative, with a positive sum"
        raise ValueError(msg)
    rng = resolve_generator(generator)
    r, n = rows.shape
    if replacement:
        cdf = np.cumsum(rows, axis=1)
        cdf = cdf / cdf[:, -1:] + np.arange(r)[:, None]  # rows stacked on [0,1), [1,2) ...
        u = rng.random((r, k)) + np.arange(r)[:, None]
        idx = np.searchsorted(cdf.reshape(-1), u.reshape(-1), side="right").reshape(r, k)
        idx = np.minimum(idx - np.arange(r)[:, None] * n, n - 1)
    else:
        if k > (rows > 0).sum(axis=1).min():
            msg = (
                f"multinomial: cannot draw {k} samples without replacement from a row with "
                f"{int((rows > 0).sum(axis=1).min())} non-zero weights"
            )
            raise ValueError(msg)
        with np.errstate(divide="ignore"):
            keys = rng.exponential(size=rows.shape) / rows  # exponential race: smallest win
        idx = np.argsort(keys, axis=1, kind="stable")[:, :k]
    return leaf(idx.reshape((*w.shape[:-1], k)).astype(np.int64))


def bernoulli(input: Any, p: Any = None, *, generator: Any = None) -> Any:
    """1 with probability ``input`` (or ``p`` for every element), else 0; ``input``'s
    dtype and shape."""
    x = as_tensor(input)
    probs = np.asarray(x._data if p is None else p, dtype=np.float64)
    if ((probs < 0) | (probs > 1) | np.isnan(probs)).any():
        msg = "bernoulli: probabilities must lie in [0, 1]"
        raise ValueError(msg)
    draw = resolve_generator(generator).random(x.shape) < probs
    return leaf(draw.astype(x.dtype if x.dtype.kind == "f" else _dtype.default_float))


def normal(
    mean: Any = 0.0,
    std: Any = 1.0,
    size: Any = None,
    *,
    generator: Any = None,
    dtype: Any = None,
    requires_grad: bool = False,
    device: Any = None,
) -> Any:
    """Normal samples with ``mean`` and ``std`` (numbers or tensors, broadcast); give
    ``size`` when both are numbers."""
    m, s = value(mean), value(std)
    tensors = [t for t in (mean, std) if isinstance(t, TensorBase | np.ndarray)]
    if size is None and not tensors:
        msg = "normal: give `size` when `mean` and `std` are both numbers"
        raise TypeError(msg)
    if (np.asarray(s) < 0).any():
        msg = "normal: `std` must be non-negative"
        raise ValueError(msg)
    shape = (
        as_shape((size,), "size")
        if size is not None
        else np.broadcast_shapes(*(np.shape(t) for t in (m, s)))
    )
    default = tensors[0].dtype if tensors and tensors[0].dtype.kind == "f" else None
    dt = _float_dtype(dtype, default)
    z = resolve_generator(generator).standard_normal(shape)
    return leaf((np.asarray(m) + np.asarray(s) * z).astype(dt), requires_grad, device)


def _fill(self: Any, values: np.ndarray) -> Any:
    return copy_(self, values.astype(self.dtype, copy=False))


def uniform_(self: Any, a: float = 0.0, b: float = 1.0, *, generator: Any = None) -> Any:
    """Fill with uniform samples in ``[a, b)``."""
    return _fill(self, resolve_generator(generator).uniform(a, b, self.shape))


def normal_(self: Any, mean: float = 0.0, std: float = 1.0, *, generator: Any = None) -> Any:
    """Fill with normal samples of ``mean`` and ``std``."""
    if std < 0:
        msg = f"normal_: `std` must be non-negative, got {std}"
        raise ValueError(msg)
    return _fill(self, resolve_generator(generator).normal(mean, std, self.shape))


def bernoulli_(self: Any, p: Any = 0.5, *, generator: Any = None) -> Any:
    """Fill with 1 with probability ``p`` (a number or a tensor), else 0."""
    probs = np.asarray(value(p), dtype=np.float64)
    if ((probs < 0) | (probs > 1)).any():
        msg = "bernoulli_: `p` must lie in [0, 1]"
        raise ValueError(msg)
    return _fill(self, resolve_generator(generator).random(self.shape) < probs)


def random_(self: Any, from_: int = 0, to: int | None = None, *, generator: Any = None) -> Any:
    """Fill with integers uniform in ``[from_, to)`` (``random_(to)``: in ``[0, to)``)."""
    if to is None:
        if from_ == 0:  # no bounds: [0, 2**mantissa] for floats, [0, max] for integers
            dt = self.dtype
            to = 2 ** (np.finfo(dt).nmant + 1) + 1 if dt.kind == "f" else int(np.iinfo(dt).max)
        else:
            from_, to = 0, from_
    lo, hi = as_int(from_, "from"), as_int(to, "to")
    if hi <= lo:
        msg = f"random_: `to` must be greater than `from`, got {lo} and {hi}"
        raise ValueError(msg)
    return _fill(self, resolve_generator(generator).integers(lo, hi, self.shape))
