"""Batch transforms: callables that take a batch array (samples on axis 0) and return a new one.

They never modify their input. Image transforms expect ``(N, C, H, W)`` or ``(N, H, W)``
batches (the last two axes are height and width) and are fully vectorised over the
batch. Random transforms draw from their own ``numpy.random.Generator`` (``generator=``
an int seed for reproducible runs) and expose ``state_dict()`` / ``load_state_dict()``
so a checkpoint can resume them exactly.

Examples
--------
>>> augment = Compose([RandomCrop(32, padding=4, generator=0), RandomHorizontalFlip(generator=1),
...                    Normalize(mean=[0.49, 0.48, 0.45], std=[0.25, 0.24, 0.26])])
>>> loader = DataLoader(train, batch_size=128, shuffle=True, transform=augment)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from dlx.data import _random
from dlx.data._checks import int_arg
from dlx.data._random import SeedLike, as_generator, rng_state, set_rng_state

__all__ = [
    "Compose",
    "GaussianNoise",
    "MaskingNoise",
    "Normalize",
    "OneHot",
    "RandomCrop",
    "RandomHorizontalFlip",
    "ToFloat32",
]


class Compose:
    """Apply ``transforms`` one after the other."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                msg = f"Compose: every transform must be callable, got {type(t).__name__}"
                raise TypeError(msg)

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x

    def state_dict(self) -> dict[str, Any]:
        """The states of the random transforms, keyed by position."""
        return {
            str(i): t.state_dict()
            for i, t in enumerate(self.transforms)
            if hasattr(t, "state_dict")
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            self.transforms[int(key)].load_state_dict(value)  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        inner = ", ".join(repr(t) for t in self.transforms)
        return f"Compose([{inner}])"


class _Random:
    """Base of the random transforms: owns a Generator and exposes its state.

    Inside a DataLoader worker the Generator is replaced at every epoch start by one
    derived from the loader's seed, the epoch and the worker id (and this transform's
    own seed, when it was given one), so workers draw independent, reproducible streams;
    see :class:`dlx.data._random.WorkerStream`.
    """

    def __init__(self, generator: SeedLike) -> None:
        self._rng = as_generator(generator, "generator", type(self).__name__)
        # A fingerprint of the seed the user gave (None: OS entropy), mixed into the
        # per-worker streams so that different transform seeds still differ there.
        self._fingerprint = (
            None if generator is None else int(copy.deepcopy(self._rng).integers(2**63))
        )
        self._generation = 0

    @property
    def rng(self) -> np.random.Generator:
        """The Generator this transform draws from (per worker and epoch inside workers)."""
        stream = _random.worker_stream
        if stream is not None and stream.generation != self._generation:
            self._rng = stream.derive(self._fingerprint)
            self._generation = stream.generation
        return self._rng

    @rng.setter
    def rng(self, value: np.random.Generator) -> None:
        self._rng = value

    def state_dict(self) -> dict[str, Any]:
        return {"rng": rng_state(self.rng)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        set_rng_state(self.rng, state["rng"])


def _float_dtype(x: np.ndarray) -> np.dtype:
    """x's dtype if floating, else float32 (integer images become float32)."""
    return x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float32)


def _probability(p: float, cls: str, *, closed: bool) -> float:
    p = float(p)
    if not (0.0 <= p <= 1.0 if closed else 0.0 <= p < 1.0):
        msg = f"{cls}: `p` must be in [0, 1{']' if closed else ')'}, got {p}"
        raise ValueError(msg)
    return p


def _image_batch(x: Any, cls: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim < 3:
        msg = f"{cls}: expected a batch of images (N, C, H, W) or (N, H, W), got shape {x.shape}"
        raise ValueError(msg)
    return x


def _pair(value: int | Sequence[int], name: str, cls: str, minimum: int) -> tuple[int, int]:
    """An int or (h, w) pair of ints, each >= minimum."""
    items = tuple(value) if isinstance(value, Sequence) else (value, value)
    if len(items) != 2:
        msg = f"{cls}: `{name}` must be an int or an (h, w) pair, got {value!r}"
        raise ValueError(msg)
    h, w = (int_arg(v, name, cls, minimum) for v in items)
    return h, w


class Normalize:
    """``(x - mean) / std``, per channel (axis 1) when ``mean``/``std`` are sequences.

    Integer inputs are converted to float32; float inputs keep their dtype.

    Parameters
    ----------
    mean, std : float or sequence of float
        Scalars, or one value per channel (the size of axis 1: channels of an NCHW batch,
        features of an ``(N, F)`` batch). ``std`` must be positive.
    """

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]) -> None:
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)
        for name, v in (("mean", self.mean), ("std", self.std)):
            if v.ndim > 1 or v.size == 0 or not np.all(np.isfinite(v)):
                msg = (
                    f"Normalize: `{name}` must be a finite number or 1-D sequence, got {v.tolist()}"
                )
                raise ValueError(msg)
        if np.any(self.std <= 0):
            msg = f"Normalize: `std` must be positive, got {self.std.tolist()}"
            raise ValueError(msg)
        if (
            self.mean.ndim == self.std.ndim == 1
            and self.mean.size != self.std.size
            and 1
            not in (
                self.mean.size,
                self.std.size,
            )
        ):
            msg = f"Normalize: `mean` has {self.mean.size} values but `std` has {self.std.size}"
            raise ValueError(msg)

    def __call__(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        dt = _float_dtype(x)
        channels = max(self.mean.size, self.std.size)
        if self.mean.ndim == 1 or self.std.ndim == 1:
            if x.ndim < 2 or (channels > 1 and x.shape[1] != channels):
                msg = f"Normalize: {channels} channel values need axis 1 of size {channels}, got shape {x.shape}"
                raise ValueError(msg)
            shape = (1, -1) + (1,) * (x.ndim - 2)
            mean, std = self.mean.reshape(shape), self.std.reshape(shape)
        else:
            mean, std = self.mean, self.std
        out = np.subtract(x, mean.astype(dt), dtype=dt)
        out /= std.astype(dt)
        return out

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class OneHot:
    """Integer class labels of any shape -> one-hot vectors on a new last axis.

    Parameters
    ----------
    num_classes : int
        Number of classes; labels must be in ``[0, num_classes)``.
    dtype : numpy dtype
        Output dtype (default float32).
    """

    def __init__(self, num_classes: int, dtype: Any = np.float32) -> None:
        self.num_classes = int_arg(num_classes, "num_classes", "OneHot", 1)
        self.dtype = np.dtype(dtype)

    def __call__(self, labels: Any) -> np.ndarray:
        y = np.asarray(labels)
        if not np.issubdtype(y.dtype, np.integer):
            msg = f"OneHot: labels must be integers, got dtype {y.dtype}"
            raise TypeError(msg)
        if y.size and (y.min() < 0 or y.max() >= self.num_classes):
            msg = f"OneHot: labels must be in [0, {self.num_classes}), got values in [{y.min()}, {y.max()}]"
            raise ValueError(msg)
        return np.eye(self.num_classes, dtype=self.dtype)[y]

    def __repr__(self) -> str:
        return f"OneHot({self.num_classes})"


class ToFloat32:
    """Convert to float32, optionally multiplying by ``scale`` (``1/255`` maps uint8 to [0, 1])."""

    def __init__(self, scale: float | None = None) -> None:
        if scale is not None and not math.isfinite(float(scale)):
            msg = f"ToFloat32: `scale` must be a finite number or None, got {scale}"
            raise ValueError(msg)
        self.scale = None if scale is None else float(scale)

    def __call__(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        if self.scale is None:
            return x.astype(np.float32)
        return np.multiply(x, np.float32(self.scale), dtype=np.float32)

    def __repr__(self) -> str:
        return f"ToFloat32(scale={self.scale})"


class RandomCrop(_Random):
    """Zero-pad the last two axes by ``padding``, then cut a random ``size`` window per sample.

    Parameters
    ----------
    size : int or (int, int)
        Output height and width.
    padding : int or (int, int)
        Zeros added on each side of height and width (default 0).
    generator : int, SeedSequence, Generator or None
        Randomness of the crop positions.
    """

    def __init__(
        self,
        size: int | Sequence[int],
        padding: int | Sequence[int] = 0,
        generator: SeedLike = None,
    ) -> None:
        self.size = _pair(size, "size", "RandomCrop", 1)
        self.padding = _pair(padding, "padding", "RandomCrop", 0)
        super().__init__(generator)

    def __call__(self, x: Any) -> np.ndarray:
        x = _image_batch(x, "RandomCrop")
        (th, tw), (ph, pw) = self.size, self.padding
        h, w = x.shape[-2] + 2 * ph, x.shape[-1] + 2 * pw
        if th > h or tw > w:
            msg = f"RandomCrop: `size` {self.size} is larger than the padded images ({h}, {w})"
            raise ValueError(msg)
        if ph or pw:
            padded = np.zeros((*x.shape[:-2], h, w), dtype=x.dtype)
            padded[..., ph : ph + x.shape[-2], pw : pw + x.shape[-1]] = x
        else:
            padded = x
        n = x.shape[0]
        top = self.rng.integers(0, h - th + 1, size=n)
        left = self.rng.integers(0, w - tw + 1, size=n)
        # windows[n, ..., i, j] is the (th, tw) patch whose corner is (i, j); picking one
        # (i, j) per sample is a single gather of exactly the output's elements.
        windows = sliding_window_view(padded, (th, tw), axis=(-2, -1))
        middle = (slice(None),) * (x.ndim - 3)
        return windows[(np.arange(n), *middle, top, left)]

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip(_Random):
    """Mirror each sample's last axis (width) with probability ``p`` (default 0.5)."""

    def __init__(self, p: float = 0.5, generator: SeedLike = None) -> None:
        self.p = _probability(p, "RandomHorizontalFlip", closed=True)
        super().__init__(generator)

    def __call__(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim < 2:
            msg = f"RandomHorizontalFlip: expected a batch with a width axis, got shape {x.shape}"
            raise ValueError(msg)
        flip = self.rng.random(x.shape[0]) < self.p
        out = x.copy()
        out[flip] = x[flip][..., ::-1]
        return out

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class GaussianNoise(_Random):
    """Add ``N(0, std**2)`` noise to every element (the corruption of a denoising autoencoder).

    Parameters
    ----------
    std : float
        Noise standard deviation (non-negative).
    clip : (float, float), optional
        Clip the result to this range, e.g. ``(0, 1)`` for images in [0, 1].
    generator : int, SeedSequence, Generator or None
        Randomness of the noise.
    """

    def __init__(
        self, std: float, clip: tuple[float, float] | None = None, generator: SeedLike = None
    ) -> None:
        self.std = float(std)
        if not (math.isfinite(self.std) and self.std >= 0):
            msg = f"GaussianNoise: `std` must be a finite non-negative number, got {std}"
            raise ValueError(msg)
        if clip is not None:
            lo, hi = (float(v) for v in clip)
            if not lo <= hi:
                msg = f"GaussianNoise: `clip` must be (low, high) with low <= high, got {clip}"
                raise ValueError(msg)
            clip = (lo, hi)
        self.clip = clip
        super().__init__(generator)

    def __call__(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        dt = _float_dtype(x)
        noise_dt = dt if dt in (np.float32, np.float64) else np.float64
        out = self.rng.standard_normal(x.shape, dtype=noise_dt).astype(dt, copy=False)
        out *= self.std
        out += x
        if self.clip is not None:
            np.clip(out, *self.clip, out=out)
        return out

    def __repr__(self) -> str:
        return f"GaussianNoise(std={self.std}, clip={self.clip})"


class MaskingNoise(_Random):
    """Set each element to zero with probability ``p`` (masking corruption; no rescaling).

    Unlike dropout the survivors are not scaled by ``1/(1-p)``: this is the input
    corruption of a denoising autoencoder, which learns to restore the clean input.
    """

    def __init__(self, p: float, generator: SeedLike = None) -> None:
        self.p = _probability(p, "MaskingNoise", closed=False)
        super().__init__(generator)

    def __call__(self, x: Any) -> np.ndarray:
        x = np.asarray(x)
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.p
        return np.where(keep, x, np.zeros((), dtype=x.dtype))

    def __repr__(self) -> str:
        return f"MaskingNoise(p={self.p})"
