"""Reverse-mode automatic differentiation: graph nodes, the engine, gradient checking.

``Function`` is the base of every differentiable op; ``backward`` and ``grad`` run the
compiled engine (``create_graph=True`` records the backward pass for higher-order
gradients); ``gradcheck``/``gradgradcheck`` compare first and second derivatives with
central differences; ``dlx.autograd.functional`` has ``vjp``, ``jvp``, ``hvp``,
``hessian`` and ``jacobian``.
"""

from __future__ import annotations

# dlx.tensor registers the Tensor class with the core before any op runs.
import dlx.tensor  # noqa: F401
from dlx._grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from dlx.autograd import functional
from dlx.autograd.custom import Function
from dlx.autograd.engine import backward, grad
from dlx.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = [
    "Function",
    "GradcheckError",
    "backward",
    "enable_grad",
    "functional",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "inference_mode",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
]
