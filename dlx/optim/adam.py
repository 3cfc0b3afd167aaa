"""The Adam family: Adam, AdamW, Adamax, RAdam, NAdam.

Each step is one fused ``dlx._core`` kernel per param group and dtype (see
:mod:`dlx.optim.optimizer`); bias corrections and the other step-dependent scalars are
computed in double by the binding. Arguments, defaults and results follow ``torch.optim``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from dlx._native import _core
from dlx.optim import _validation as v
from dlx.optim.optimizer import Optimizer


def _check_adam_group(group: dict[str, Any]) -> None:
    """Validate what every Adam-family group has: lr, betas, eps, weight_decay, decoupling."""
    group["lr"] = v.positive(group["lr"], "lr")
    group["betas"] = v.betas(group["betas"])
    group["eps"] = v.non_negative(group["eps"], "eps")
    group["weight_decay"] = v.non_negative(group["weight_decay"], "weight_decay")
    group["decoupled_weight_decay"] = v.flag(
        group["decoupled_weight_decay"], "decoupled_weight_decay"
    )


def _common(group: dict[str, Any]) -> dict[str, Any]:
    """The kernel keywords shared by the Adam family."""
    beta1, beta2 = group["betas"]
    return {
        "lr": group["lr"],
        "beta1": beta1,
        "beta2": beta2,
        "eps": group["eps"],
        "weight_decay": group["weight_decay"],
        "decoupled_weight_decay": group["decoupled_weight_decay"],
    }


class Adam(Optimizer):
    """Adam, with optional AMSGrad and decoupled (AdamW) weight decay.

    Parameters
    ----------
    params : iterable
        Parameters or param-group dicts.
    lr : float, default 1e-3
        Learning rate (> 0).
    betas : (float, float), default (0.9, 0.999)
        Decay rates of the first and second moment estimates, each in [0, 1).
    eps : float, default 1e-8
        Added to the denominator.
    weight_decay : float, default 0
        L2 penalty, or decoupled decay when `decoupled_weight_decay`.
    amsgrad : bool, default False
        Normalise by the running maximum of the second moment.
    decoupled_weight_decay : bool, default False
        Shrink the parameters by ``lr * weight_decay`` instead (AdamW).
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        decoupled_weight_decay: bool = False,
    ) -> None:
        super().__init__(
            params,
            {
                "lr": lr,
                "betas": betas,
                "eps": eps,
                "weight_decay": weight_decay,
                "amsgrad": amsgrad,
                "decoupled_weight_decay": decoupled_weight_decay,
            },
        )

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_adam_group(group)
        group["amsgrad"] = v.flag(group["amsgrad"], "amsgrad")

    def _state_buffers(self, group: dict[str, Any]) -> dict[str, float]:
        names = {"exp_avg": 0.0, "exp_avg_sq": 0.0}
        if group["amsgrad"]:
            names["max_exp_avg_sq"] = 0.0
        return names

    def _run(
        self,
        group: dict[str, Any],
        param: np.ndarray,
        grad: np.ndarray,
        state: dict[str, np.ndarray],
        scalars: dict[str, float],
    ) -> dict[str, float]:
        step = int(scalars["step"]) + 1
        _core.adam_step_(
            param,
            grad,
            state["exp_avg"],
            state["exp_avg_sq"],
            step,
            max_exp_avg_sq=state.get("max_exp_avg_sq"),
            **_common(group),
        )
        return {"step": step}


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter); `weight_decay` defaults to 1e-2.

    Parameters are those of :class:`Adam`; ``decoupled_weight_decay`` is always True.
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, decoupled_weight_decay=True)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        group["decoupled_weight_decay"] = True


class Adamax(Optimizer):
    """Adamax: Adam with the second moment replaced by a decayed infinity norm (Kingma & Ba).

    Parameters
    ----------
    params : iterable
        Parameters or param-group dicts.
    lr : float, default 2e-3
        Learning rate (> 0).
    betas : (float, float), default (0.9, 0.999)
        Decay rates of the first moment and of the infinity norm, each in [0, 1).
    eps : float, default 1e-8
        Added to ``|grad|`` before the running maximum.
    weight_decay : float, default 0
        L2 penalty.
    """

    def __init__(
        self,
        params: Any,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(
            params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        )

    def _check_group(self, group: dict[str, Any]) -> None:
        group["lr"] = v.positive(group["lr"], "lr")
        group["betas"] = v.betas(group["betas"])
        group["eps"] = v.non_negative(group["eps"], "eps")
        group["weight_decay"] = v.non_negative(group["weight_decay"], "weight_decay")

    def _state_buffers(self, group: dict[str, Any]) -> dict[str, float]:
        return {"exp_avg": 0.0, "exp_inf": 0.0}

    def _run(
        self,
        group: dict[str, Any],
        param: np.ndarray,
        grad: np.ndarray,
        state: dict[str, np.ndarray],
        scalars: dict[str, float],
    ) -> dict[str, float]:
        step = int(scalars["step"]) + 1
        beta1, beta2 = group["betas"]
        _core.adamax_step_(
            param,
            grad,
            state["exp_avg"],
            state["exp_inf"],
            step,
            lr=group["lr"],
            beta1=beta1,
            beta2=beta2,
            eps=group["eps"],
            weight_decay=group["weight_decay"],
        )
        return {"step": step}


class RAdam(Optimizer):
    """Rectified Adam: plain momentum SGD until the second-moment estimate is tractable.

    Parameters
    ----------
    params : iterable
        Parameters or param-group dicts.
    lr : float, default 1e-3
    betas : (float, float), default (0.9, 0.999)
    eps : float, default 1e-8
    weight_decay : float, default 0
    decoupled_weight_decay : bool, default False
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
    ) -> None:
        super().__init__(
            params,
            {
                "lr": lr,
                "betas": betas,
                "eps": eps,
                "weight_decay": weight_decay,
                "decoupled_weight_decay": decoupled_weight_decay,
            },
        )

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_adam_group(group)

    def _state_buffers(self, group: dict[str, Any]) -> dict[str, float]:
        return {"exp_avg": 0.0, "exp_avg_sq": 0.0}

    def _run(
        self,
        group: dict[str, Any],
        param: np.ndarray,
        grad: np.ndarray,
        state: dict[str, np.ndarray],
        scalars: dict[str, float],
    ) -> dict[str, float]:
        step = int(scalars["step"]) + 1
        _core.radam_step_(
            param, grad, state["exp_avg"], state["exp_avg_sq"], step, **_common(group)
        )
        return {"step": step}


class NAdam(Optimizer):
    """Adam with Nesterov momentum and a momentum warm-up schedule (Dozat).

    Parameters
    ----------
    params : iterable
        Parameters or param-group dicts.
    lr : float, default 2e-3
    betas : (float, float), default (0.9, 0.999)
    eps : float, default 1e-8
    weight_decay : float, default 0
    momentum_decay : float, default 4e-3
        Speed of the momentum schedule ``mu_t = beta1 (1 - 0.5 * 0.96 ** (t * momentum_decay))``.
    decoupled_weight_decay : bool, default False
    """

    _scalar_state: ClassVar[dict[str, float]] = {"step": 0, "mu_product": 1.0}
    _public_scalars: ClassVar[tuple[str, ...]] = ("step", "mu_product")

    def __init__(
        self,
        params: Any,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
    ) -> None:
        super().__init__(
            params,
            {
                "lr": lr,
                "betas": betas,
                "eps": eps,
                "weight_decay": weight_decay,
                "momentum_decay": momentum_decay,
                "decoupled_weight_decay": decoupled_weight_decay,
            },
        )

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_adam_group(group)
        group["momentum_decay"] = v.non_negative(group["momentum_decay"], "momentum_decay")

    def _state_buffers(self, group: dict[str, Any]) -> dict[str, float]:
        return {"exp_avg": 0.0, "exp_avg_sq": 0.0}

    def _run(
        self,
        group: dict[str, Any],
        param: np.ndarray,
        grad: np.ndarray,
        state: dict[str, np.ndarray],
        scalars: dict[str, float],
    ) -> dict[str, float]:
        step = int(scalars["step"]) + 1
        beta1, decay = group["betas"][0], group["momentum_decay"]
        mu_product = scalars["mu_product"] * (beta1 * (1.0 - 0.5 * 0.96 ** (step * decay)))
        _core.nadam_step_(
            param,
            grad,
            state["exp_avg"],
            state["exp_avg_sq"],
            step,
            mu_product,
            momentum_decay=decay,
            **_common(group),
        )
        return {"step": step, "mu_product": mu_product}
