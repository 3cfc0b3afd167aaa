"""``BatchNorm1d`` and ``BatchNorm2d`` with PyTorch's buffers and train/eval behaviour;
``LayerNorm``, ``RMSNorm`` and ``GroupNorm`` (per-sample statistics, no buffers)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dlx._validation import as_int
from dlx.nn import init
from dlx.nn.functional import batch_norm, group_norm, layer_norm, rms_norm
from dlx.nn.functional._layer_norm import normalized_shape_of
from dlx.nn.modules._layer_utils import check_input, float_dtype, jsonable
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


def _check_eps(name: str, eps: Any) -> float:
    if isinstance(eps, bool) or not (
        isinstance(eps, int | float) and eps >= 0 and math.isfinite(eps)
    ):
        msg = f"{name}: `eps` must be a finite number >= 0, got {eps!r}"
        raise ValueError(msg)
    return float(eps)


class LayerNorm(Module):
    """Layer normalisation over the trailing ``normalized_shape`` axes of each sample.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` (biased variance). With
    ``elementwise_affine`` the layer learns ``weight`` (ones) and, with ``bias``, ``bias``
    (zeros), both of shape ``normalized_shape``.
    """

    def __init__(
        self,
        normalized_shape: Any,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.normalized_shape = normalized_shape_of(normalized_shape, name)
        self.eps = _check_eps(name, eps)
        self.elementwise_affine = bool(elementwise_affine)
        dt = float_dtype(dtype)
        if self.elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dt))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dt))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self._dtype = dt

    def reset_parameters(self) -> None:
        """Weight 1 and bias 0."""
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Same as the input shape (checked against ``normalized_shape``)."""
        shape = tuple(input_shape)
        k = len(self.normalized_shape)
        if len(shape) < k or shape[len(shape) - k :] != self.normalized_shape:
            msg = f"{self!r}: expected input of shape (*, {', '.join(map(str, self.normalized_shape))}), got {shape}"
            raise ValueError(msg)
        return shape

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        return {
            "normalized_shape": jsonable(self.normalized_shape),
            "eps": self.eps,
            "elementwise_affine": self.elementwise_affine,
            "bias": self.bias is not None,
            "dtype": self._dtype.name,
        }


class RMSNorm(Module):
    """Root-mean-square normalisation over the trailing ``normalized_shape`` axes:
    ``y = x / sqrt(mean(x**2) + eps) * weight``; ``eps=None`` is the dtype's machine
    epsilon. With ``elementwise_affine`` the layer learns ``weight`` (ones)."""

    def __init__(
        self,
        normalized_shape: Any,
        eps: float | None = None,
        elementwise_affine: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.normalized_shape = normalized_shape_of(normalized_shape, name)
        self.eps = None if eps is None else _check_eps(name, eps)
        self.elementwise_affine = bool(elementwise_affine)
        dt = float_dtype(dtype)
        if self.elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dt))
        else:
            self.register_parameter("weight", None)
        self._dtype = dt

    def reset_parameters(self) -> None:
        """Weight 1."""
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, input: Tensor) -> Tensor:
        return rms_norm(input, self.normalized_shape, self.weight, self.eps)

    output_shape = LayerNorm.output_shape

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        return {
            "normalized_shape": jsonable(self.normalized_shape),
            "eps": self.eps,
            "elementwise_affine": self.elementwise_affine,
            "dtype": self._dtype.name,
        }


class GroupNorm(Module):
    """Group normalisation of ``(N, C, *)`` input: ``num_channels`` split into
    ``num_groups`` groups, each normalised per sample over its channels and positions;
    with ``affine``, per-channel ``weight`` (ones) and ``bias`` (zeros)."""

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        self.num_groups = as_int(num_groups, "num_groups")
        self.num_channels = as_int(num_channels, "num_channels")
        if self.num_groups < 1 or self.num_channels < 1 or self.num_channels % self.num_groups:
            msg = (
                f"{name}: `num_channels` ({self.num_channels}) must be a positive multiple of "
                f"`num_groups`, got num_groups={self.num_groups}"
            )
            raise ValueError(msg)
        self.eps = _check_eps(name, eps)
        self.affine = bool(affine)
        dt = float_dtype(dtype)
        if self.affine:
            self.weight = Parameter(np.ones(self.num_channels, dtype=dt))
            self.bias = Parameter(np.zeros(self.num_channels, dtype=dt))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self._dtype = dt

    def reset_parameters(self) -> None:
        """Weight 1 and bias 0."""
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        shape = tuple(getattr(input, "shape", ()))
        if len(shape) >= 2 and shape[1] != self.num_channels:
            check_input(self, shape, (len(shape),), self.num_channels, "(N, C, *)")
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Same as the input shape (checked)."""
        shape = tuple(input_shape)
        check_input(self, shape, tuple(range(2, 9)), self.num_channels, "(N, C, *)")
        return shape

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        return {
            "num_groups": self.num_groups,
            "num_channels": self.num_channels,
            "eps": self.eps,
            "affine": self.affine,
            "dtype": self._dtype.name,
        }
