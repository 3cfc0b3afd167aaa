"""Reverse-mode automatic differentiation: graph nodes, the engine, gradient checking.

``Function`` is the base of every differentiable op; ``grad`` computes gradients without
touching ``.grad``; ``gradcheck`` compares them with central differences.
"""

from __future__ import annotations

# dlx.tensor defines Tensor before the modules below import it.
import dlx.tensor  # noqa: F401
from dlx._grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from dlx.autograd.engine import backward, grad
from dlx.autograd.function import Function
from dlx.autograd.gradcheck import GradcheckError, gradcheck

__all__ = [
    "Function",
    "GradcheckError",
    "backward",
    "enable_grad",
    "grad",
    "gradcheck",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
]
