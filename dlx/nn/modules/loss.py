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
    "CosineEmbeddingLoss",
    "CrossEntropyLoss",
    "GaussianNLLLoss",
    "HuberLoss",
    "KLDivLoss",
    "L1Loss",
    "MSELoss",
    "MarginRankingLoss",
    "NLLLoss",
    "PoissonNLLLoss",
    "SmoothL1Loss",
    "TripletMarginLoss",
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


def _checked_real(cls: str, value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        msg = f"{cls}: `{name}` must be a real number, got {type(value).__name__}"
        raise TypeError(msg)
    return float(value)


class SmoothL1Loss(_Loss):
    """Smooth L1 loss; see :func:`dlx.nn.functional.smooth_l1_loss`."""

    def __init__(self, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        self.beta = _checked_real("SmoothL1Loss", beta, "beta")
        if not (self.beta >= 0 and np.isfinite(self.beta)):
            msg = f"SmoothL1Loss: `beta` must be a finite number >= 0, got {beta!r}"
            raise ValueError(msg)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.smooth_l1_loss(input, target, self.reduction, self.beta)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta": self.beta}


class KLDivLoss(_Loss):
    """KL divergence on log-probabilities; see :func:`dlx.nn.functional.kl_div`."""

    def __init__(self, reduction: str = "mean", log_target: bool = False) -> None:
        if reduction == "batchmean":
            Module.__init__(self)
            self.reduction = reduction
        else:
            super().__init__(reduction)
        if not isinstance(log_target, bool):
            msg = f"KLDivLoss: `log_target` must be a bool, got {type(log_target).__name__}"
            raise TypeError(msg)
        self.log_target = log_target

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.kl_div(input, target, self.reduction, self.log_target)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "log_target": self.log_target}


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood; see :func:`dlx.nn.functional.gaussian_nll_loss`.
    Called as ``loss(input, target, var)``."""

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.full = bool(full)
        self.eps = _checked_real("GaussianNLLLoss", eps, "eps")
        if not self.eps > 0:
            msg = f"GaussianNLLLoss: `eps` must be > 0, got {eps!r}"
            raise ValueError(msg)

    def forward(self, input: Any, target: Any, var: Any) -> Tensor:
        return F.gaussian_nll_loss(input, target, var, self.full, self.eps, self.reduction)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "full": self.full, "eps": self.eps}


class PoissonNLLLoss(_Loss):
    """Poisson negative log-likelihood; see :func:`dlx.nn.functional.poisson_nll_loss`."""

    def __init__(
        self, log_input: bool = True, full: bool = False, eps: float = 1e-8, reduction: str = "mean"
    ) -> None:
        super().__init__(reduction)
        self.log_input, self.full = bool(log_input), bool(full)
        self.eps = _checked_real("PoissonNLLLoss", eps, "eps")

    def forward(self, log_input: Any, target: Any) -> Tensor:
        return F.poisson_nll_loss(
            log_input, target, self.log_input, self.full, self.eps, self.reduction
        )

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "log_input": self.log_input,
            "full": self.full,
            "eps": self.eps,
        }


class _MarginLoss(_Loss):
    def __init__(self, margin: float = 0.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = _checked_real(type(self).__name__, margin, "margin")

    def get_config(self) -> dict[str, Any]:
        return {"margin": self.margin, **super().get_config()}


class MarginRankingLoss(_MarginLoss):
    """Margin ranking loss; see :func:`dlx.nn.functional.margin_ranking_loss`."""

    def forward(self, input1: Any, input2: Any, target: Any) -> Tensor:
        return F.margin_ranking_loss(input1, input2, target, self.margin, self.reduction)


class CosineEmbeddingLoss(_MarginLoss):
    """Cosine embedding loss; see :func:`dlx.nn.functional.cosine_embedding_loss`."""

    def forward(self, input1: Any, input2: Any, target: Any) -> Tensor:
        return F.cosine_embedding_loss(input1, input2, target, self.margin, self.reduction)


class TripletMarginLoss(_Loss):
    """Triplet margin loss; see :func:`dlx.nn.functional.triplet_margin_loss`."""

    def __init__(
        self,
        margin: float = 1.0,
        p: float = 2.0,
        eps: float = 1e-6,
        swap: bool = False,
        reduction: str = "mean",
    ) -> None:
        super().__init__(reduction)
        self.margin = _checked_real("TripletMarginLoss", margin, "margin")
        self.p = _checked_real("TripletMarginLoss", p, "p")
        self.eps = _checked_real("TripletMarginLoss", eps, "eps")
        for name, val in (("margin", self.margin), ("p", self.p)):
            if not val > 0:
                msg = f"TripletMarginLoss: `{name}` must be > 0, got {val!r}"
                raise ValueError(msg)
        self.swap = bool(swap)

    def forward(self, anchor: Any, positive: Any, negative: Any) -> Tensor:
        return F.triplet_margin_loss(
            anchor, positive, negative, self.margin, self.p, self.eps, self.swap, self.reduction
        )

    def get_config(self) -> dict[str, Any]:
        return {
            "margin": self.margin,
            "p": self.p,
            "eps": self.eps,
            "swap": self.swap,
            **super().get_config(),
        }
