"""``GaussianMixtureNLL``: the mixture density network loss as a module."""

from __future__ import annotations

from typing import Any

from dlx.nn.functional._loss import check_reduction
from dlx.nn.functional._mdn import gaussian_mixture_nll
from dlx.nn.modules.module import Module
from dlx.tensor import Tensor

__all__ = ["GaussianMixtureNLL"]


class GaussianMixtureNLL(Module):
    """Negative log-likelihood of a mixture of K diagonal Gaussians (Bishop's MDN loss).

    ``forward(logits_pi, mu, sigma_raw, target)`` with shapes ``(*, K)``, ``(*, K, D)``,
    ``(*, K, D)``, ``(*, D)``; see :func:`dlx.nn.functional.gaussian_mixture_nll`.

    Parameters
    ----------
    variance : {"softplus", "exp"}
        ``sigma = softplus(sigma_raw) + eps`` or ``sigma = exp(sigma_raw)``.
    reduction : {"mean", "sum", "none"}
    eps : float
        Floor on the softplus standard deviation.
    """

    def __init__(self, variance: str = "softplus", reduction: str = "mean", eps: float = 1e-6):
        super().__init__()
        if variance not in ("softplus", "exp"):
            msg = f"GaussianMixtureNLL: `variance` must be 'softplus' or 'exp', got {variance!r}"
            raise ValueError(msg)
        self.variance = variance
        self.reduction = check_reduction("GaussianMixtureNLL", reduction)
        self.eps = float(eps)

    def forward(self, logits_pi: Any, mu: Any, sigma_raw: Any, target: Any) -> Tensor:
        return gaussian_mixture_nll(
            logits_pi, mu, sigma_raw, target, self.variance, self.reduction, self.eps
        )

    def get_config(self) -> dict[str, Any]:
        """Constructor kwargs as JSON-serialisable values."""
        return {"variance": self.variance, "reduction": self.reduction, "eps": self.eps}

    def extra_repr(self) -> str:
        return f"variance={self.variance!r}, reduction={self.reduction!r}, eps={self.eps}"
