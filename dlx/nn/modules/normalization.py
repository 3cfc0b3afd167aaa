"""``BatchNorm1d`` and ``BatchNorm2d`` with PyTorch's buffers and train/eval behaviour."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlx._validation import as_int
from dlx.nn import init
from dlx.nn.functional import batch_norm
from dlx.nn.modules._layer_utils import check_input, float_dtype
from dlx.nn.modules.module import Module
from dlx.nn.parameter import Parameter
from dlx.tensor import Tensor


class _BatchNorm(Module):
    _ndims: tuple[int, ...] = ()
    _layout = ""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.num_features = as_int(num_features, "num_features")
        if self.num_features < 1:
            msg = f"{name}: `num_features` must be positive, got {self.num_features}"
            raise ValueError(msg)
        if not (isinstance(eps, int | float) and eps > 0 and math.isfinite(eps)):
            msg = f"{name}: `eps` must be a positive number, got {eps!r}"
            raise ValueError(msg)
        if momentum is not None and not (
            isinstance(momentum, int | float) and 0.0 <= momentum <= 1.0
        ):
            msg = f"{name}: `momentum` must be in [0, 1] or None (cumulative average), got {momentum!r}"
            raise ValueError(msg)
        self.eps = float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        dt = float_dtype(dtype)
        c = self.num_features
        if self.affine:
            self.weight = Parameter(np.ones(c, dtype=dt))
            self.bias = Parameter(np.zeros(c, dtype=dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(c, dtype=dt))
            self.register_buffer("running_var", np.ones(c, dtype=dt))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches tracked."""
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            self.num_batches_tracked.numpy()[...] = 0
            self.num_batches_tracked._bump_version()

    def reset_parameters(self) -> None:
        """Reset the running statistics, weight 1 and bias 0."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        shape = tuple(getattr(input, "shape", ()))
        check_input(self, shape, self._ndims, self.num_features, self._layout)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            nbt = self.num_batches_tracked
            nbt.numpy()[...] += 1
            nbt._bump_version()
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(nbt.numpy())
        use_batch_stats = self.training or self.running_mean is None
        track = not self.training or self.track_running_stats
        return batch_norm(
            input,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_batch_stats,
            factor,
            self.eps,
        )

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Same as the input shape (checked)."""
        shape = tuple(input_shape)
        check_input(self, shape, self._ndims, self.num_features, self._layout)
        return shape

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats}"
        )

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        dt = self.weight if self.affine else self.running_mean
        return {
            "num_features": self.num_features,
            "eps": self.eps,
            "momentum": self.momentum,
            "affine": self.affine,
            "track_running_stats": self.track_running_stats,
            "dtype": "float32" if dt is None else dt.dtype.name,
        }


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of ``(N, C)`` or ``(N, C, L)`` input over N (and L) per channel.

    Training mode normalises with batch statistics and updates ``running_mean`` /
    ``running_var`` (unbiased) with ``momentum`` (None: cumulative average) and counts
    ``num_batches_tracked``; eval mode uses the running statistics. With
    ``track_running_stats=False`` batch statistics are always used.
    """

    _ndims = (2, 3)
    _layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of ``(N, C, H, W)`` input over N, H, W per channel.

    See :class:`BatchNorm1d` for the train/eval behaviour.
    """

    _ndims = (4,)
    _layout = "(N, C, H, W)"
