"""Loss modules (PyTorch constructor arguments) over ``dlx.nn.functional``.

Each keeps its hyper-parameters as attributes; ``get_config()`` returns them as
JSON-serialisable constructor kwargs (class-weight tensors become nested lists), so
``type(loss)(**loss.get_config())`` rebuilds an equivalent loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx.nn import functional as F
from dlx.nn.functional._loss import check_reduction
from dlx.nn.modules.module import Module
from dlx.tensor import Tensor

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "HuberLoss",
    "L1Loss",
    "MSELoss",
    "NLLLoss",
]


def _as_list(t: Tensor | None) -> Any:
    return None if t is None else np.asarray(t.numpy()).tolist()


class _Loss(Module):
    """Base: stores ``reduction`` (checked) and provides ``get_config``/``extra_repr``."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_reduction(type(self).__name__, reduction)

    def get_config(self) -> dict[str, Any]:
        """Constructor kwargs as JSON-serialisable values."""
        return {"reduction": self.reduction}

    def extra_repr(self) -> str:
        parts = []
        for k, v in self.get_config().items():
            if isinstance(v, list):
                continue  # tensors are listed as buffers, not in the one-line repr
            parts.append(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}")
        return ", ".join(parts)


class _WeightedLoss(_Loss):
    """A loss with an optional constant class-weight buffer ``weight``."""

    def __init__(self, weight: Any = None, reduction: str = "mean") -> None:
        super().__init__(reduction)
        w = None if weight is None else Tensor(weight).detach()
        self.register_buffer("weight", w)

    def get_config(self) -> dict[str, Any]:
        return {"weight": _as_list(self.weight), **super().get_config()}


class CrossEntropyLoss(_WeightedLoss):
    """Softmax cross-entropy from logits; see :func:`dlx.nn.functional.cross_entropy`."""

    def __init__(
        self,
        weight: Any = None,
        ignore_index: int = -100,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, reduction)
        self.ignore_index = int(ignore_index)
        self.label_smoothing = float(label_smoothing)
        if not 0.0 <= self.label_smoothing <= 1.0:
            msg = f"CrossEntropyLoss: `label_smoothing` must be in [0, 1], got {label_smoothing}"
            raise ValueError(msg)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.cross_entropy(
            input, target, self.weight, self.ignore_index, self.reduction, self.label_smoothing
        )

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "ignore_index": self.ignore_index,
            "label_smoothing": self.label_smoothing,
        }


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood on log-probabilities; see :func:`dlx.nn.functional.nll_loss`."""

    def __init__(
        self, weight: Any = None, ignore_index: int = -100, reduction: str = "mean"
    ) -> None:
        super().__init__(weight, reduction)
        self.ignore_index = int(ignore_index)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.nll_loss(input, target, self.weight, self.ignore_index, self.reduction)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "ignore_index": self.ignore_index}


class BCEWithLogitsLoss(_WeightedLoss):
    """Sigmoid + binary cross-entropy; see
    :func:`dlx.nn.functional.binary_cross_entropy_with_logits`."""

    def __init__(self, weight: Any = None, reduction: str = "mean", pos_weight: Any = None) -> None:
        super().__init__(weight, reduction)
        pw = None if pos_weight is None else Tensor(pos_weight).detach()
        self.register_buffer("pos_weight", pw)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(
            input, target, self.weight, self.reduction, self.pos_weight
        )

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pos_weight": _as_list(self.pos_weight)}


class BCELoss(_WeightedLoss):
    """Binary cross-entropy on probabilities; see :func:`dlx.nn.functional.binary_cross_entropy`."""

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, self.reduction)


class MSELoss(_Loss):
    """Mean squared error; see :func:`dlx.nn.functional.mse_loss`."""

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Mean absolute error; see :func:`dlx.nn.functional.l1_loss`."""

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.l1_loss(input, target, self.reduction)


class HuberLoss(_Loss):
    """Huber loss; see :func:`dlx.nn.functional.huber_loss`."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        self.delta = float(delta)
        if not self.delta > 0:
            msg = f"HuberLoss: `delta` must be positive, got {delta}"
            raise ValueError(msg)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.huber_loss(input, target, self.reduction, self.delta)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "delta": self.delta}
