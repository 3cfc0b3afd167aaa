"""Activation layers (PyTorch names), ``Maxout`` and the softmax layers."""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx._validation import as_int, shape_str
from dlx.nn import functional as F
from dlx.nn.modules._layer_utils import float_dtype
from dlx.nn.modules.module import Module
from dlx.nn.parameter import Parameter
from dlx.tensor import Tensor


class _Elementwise(Module):
    """A parameter-free activation; ``get_config`` holds the arguments of ``_fn``.

    ``inplace`` is accepted for PyTorch compatibility; the result is always a new tensor.
    """

    _fn: Any = None

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = bool(inplace)

    def forward(self, input: Tensor) -> Tensor:
        cfg = self.get_config()
        return type(self)._fn(input, **cfg) if cfg else type(self)._fn(input)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Same as the input shape."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        return {}

    def extra_repr(self) -> str:
        items = [f"{k}={v!r}" for k, v in self.get_config().items()]
        return ", ".join(items + (["inplace=True"] if self.inplace else []))


class ReLU(_Elementwise):
    """``max(x, 0)``."""

    _fn = staticmethod(F.relu)

    def _fusion(self) -> tuple[Any, ...] | None:
        if type(self).forward is not _Elementwise.forward or type(self)._fn is not F.relu:
            return None
        return ("relu",)


class AbsReLU(_Elementwise):
    """``|x|`` (absolute-value rectification)."""

    _fn = staticmethod(F.abs_relu)


class SiLU(_Elementwise):
    """``x * sigmoid(x)``."""

    _fn = staticmethod(F.silu)


class Sigmoid(_Elementwise):
    """``1 / (1 + exp(-x))``."""

    _fn = staticmethod(F.sigmoid)


class Tanh(_Elementwise):
    """Hyperbolic tangent."""

    _fn = staticmethod(F.tanh)


class LeakyReLU(_Elementwise):
    """``x`` for ``x > 0``, else ``negative_slope * x``."""

    _fn = staticmethod(F.leaky_relu)

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__(inplace)
        F.leaky_relu(np.zeros(0), negative_slope)  # validates
        self.negative_slope = float(negative_slope)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        return {"negative_slope": self.negative_slope}


class ELU(_Elementwise):
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``."""

    _fn = staticmethod(F.elu)

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__(inplace)
        F.elu(np.zeros(0), alpha)
        self.alpha = float(alpha)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        return {"alpha": self.alpha}


class GELU(_Elementwise):
    """``x * Phi(x)`` (``approximate="tanh"`` for the tanh formula)."""

    _fn = staticmethod(F.gelu)

    def __init__(self, approximate: str = "none") -> None:
        super().__init__(False)
        F.gelu(np.zeros(0), approximate)
        self.approximate = approximate

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        return {"approximate": self.approximate}


class Softplus(_Elementwise):
    """``log(1 + exp(beta * x)) / beta``, linear above ``threshold``."""

    _fn = staticmethod(F.softplus)

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__(False)
        F.softplus(np.zeros(0), beta, threshold)
        self.beta, self.threshold = float(beta), float(threshold)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        return {"beta": self.beta, "threshold": self.threshold}


class Hardtanh(_Elementwise):
    """Clip to ``[min_val, max_val]``."""

    _fn = staticmethod(F.hardtanh)

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__(inplace)
        F.hardtanh(np.zeros(0), min_val, max_val)
        self.min_val, self.max_val = float(min_val), float(max_val)

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        return {"min_val": self.min_val, "max_val": self.max_val}


class Softmax(_Elementwise):
    """``exp(x) / sum(exp(x))`` along ``dim``."""

    _fn = staticmethod(F.softmax)

    def __init__(self, dim: int | None = None) -> None:
        super().__init__(False)
        self.dim = None if dim is None else as_int(dim, "dim")

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        return {"dim": self.dim}

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """``x - logsumexp(x)`` along ``dim``."""

    _fn = staticmethod(F.log_softmax)


class PReLU(Module):
    """``x`` for ``x > 0``, else ``weight * x`` with a learned slope.

    ``num_parameters`` is 1 (one shared slope) or the number of channels (axis 1);
    every slope starts at ``init``.
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, dtype: Any = None) -> None:
        super().__init__()
        self.num_parameters = as_int(num_parameters, "num_parameters")
        if self.num_parameters < 1:
            msg = f"PReLU: `num_parameters` must be positive, got {self.num_parameters}"
            raise ValueError(msg)
        self.init = float(init)
        self.weight = Parameter(np.full(self.num_parameters, self.init, dtype=float_dtype(dtype)))

    def reset_parameters(self) -> None:
        """Every slope back to ``init``."""
        self.weight.numpy().fill(self.init)
        self.weight._bump_version()

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Same as the input shape."""
        return tuple(input_shape)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        return {
            "num_parameters": self.num_parameters,
            "init": self.init,
            "dtype": self.weight.dtype.name,
        }


class Maxout(Module):
    """Max over groups of ``pieces`` consecutive channels: ``(N, C*pieces, ...) -> (N, C, ...)``.

    Put it after a Linear/Conv2d layer with ``pieces`` times the wanted outputs.
    """

    def __init__(self, pieces: int) -> None:
        super().__init__()
        self.pieces = as_int(pieces, "pieces")
        if self.pieces < 1:
            msg = f"Maxout: `pieces` must be positive, got {self.pieces}"
            raise ValueError(msg)

    def forward(self, input: Tensor) -> Tensor:
        return F.maxout(input, self.pieces)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """``input_shape`` with axis 1 divided by ``pieces``."""
        s = tuple(input_shape)
        if len(s) < 2 or s[1] % self.pieces:
            msg = (
                f"{self!r}: expected input with channels (axis 1) divisible by "
                f"{self.pieces}, got input of shape {shape_str(s)}"
            )
            raise ValueError(msg)
        return (s[0], s[1] // self.pieces, *s[2:])

    def extra_repr(self) -> str:
        return f"pieces={self.pieces}"

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments as JSON-serialisable values."""
        return {"pieces": self.pieces}
