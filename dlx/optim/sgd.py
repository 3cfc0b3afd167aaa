"""SGD, averaged SGD and the per-coordinate adaptive rules: Rprop, Adagrad, RMSprop, Adadelta.

Each step is one fused ``dlx._core`` kernel per param group and dtype (see
:mod:`dlx.optim.optimizer`). Arguments, defaults and results follow ``torch.optim``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from dlx._native import _core
from dlx.optim import _validation as v
from dlx.optim.optimizer import Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, dampening, Nesterov and weight decay.

    Parameters
    ----------
    params : iterable
        Parameters or param-group dicts.
    lr : float, default 1e-3
        Learning rate (> 0).
    momentum : float, default 0
        Momentum factor (>= 0).
    dampening : float, default 0
        Dampening of the momentum.
    weight_decay : float, default 0
        L2 penalty (>= 0).
    nesterov : bool, default False
        Nesterov momentum (needs momentum > 0 and zero dampening).
    """

    _public_scalars = ()

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
    ) -> None:
        super().__init__(
            params,
            {
                "lr": lr,
                "momentum": momentum,
                "dampening": dampening,
                "weight_decay": weight_decay,
                "nesterov": nesterov,
            },
        )

    def _check_group(self, group: dict[str, Any]) -> None:
        group["lr"] = v.positive(group["lr"], "lr")
        group["momentum"] = v.non_negative(group["momentum"], "momentum")
        group["dampening"] = v.real(group["dampening"], "dampening")
        group["weight_decay"] = v.non_negative(group["weight_decay"], "weight_decay")
        group["nesterov"] = v.flag(group["nesterov"], "nesterov")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            msg = (
                f"`nesterov` needs `momentum` > 0 and `dampening` = 0, got momentum="
                f"{group['momentum']}, dampening={group['dampening']}"
            )
            raise ValueError(msg)

    def _state_buffers(self, group: dict[str, Any]) -> dict[str, float]:
        return {"momentum_buffer": 0.0} if group["momentum"] != 0 else {}

    def _run(
        self,
        group: dict[str, Any],
        param: np.ndarray,
        grad: np.ndarray,
        state: dict[str, np.ndarray],
        scalars: dict[str, float],
    ) -> dict[str, float]:
        momentum = group["momentum"]
        _core.sgd_step_(
            param,
            grad,
            state.get("momentum_buffer"),
            lr=group["lr"],
            momentum=momentum,
            dampening=group["dampening"],
            weight_decay=group["weight_decay"],
            nesterov=group["nesterov"],
            first_step=scalars["step"] == 0,
        )
        # "step" counts momentum steps: 0 means no momentum buffer yet (PyTorch's None).
        return {"step": scalars["step"] + (1 if momentum != 0 else 0)}


class ASGD(Optimizer):
    """Averaged SGD (Polyak & Juditsky): SGD with a decaying step size that also keeps the
    running average of the parameters (``optimizer.state[p]["ax"]``).

    Each step uses ``eta`` (initially `lr`) and ``mu`` (initially 1) kept per parameter:
    ``p = p * (1 - lambd * eta) - eta * grad``, then ``ax += (p - ax) * mu`` (``ax = p``
    while ``mu == 1``), then ``eta = lr / (1 + lambd * lr * step) ** alpha`` and
    ``mu = 1 / max(1, step - t0)``. As in PyTorch, ``eta`` and ``mu`` are kept in the
    parameter's dtype.

    Parameters
    ----------
    params : iterable
        Parameters or param-group dicts.
    lr : float, default 1e-2
        Learning rate (> 0).
    lambd : float, default 1e-4
        Decay term.
    alpha : float, default 0.75
        Power of the step-size decay.
    t0 : float, default 1e6
        Step after which averaging starts.
    weight_decay : float, default 0
        L2 penalty.
    """

    _scalar_state: ClassVar[dict[str, float]] = {"step": 0, "eta": 0.0, "mu": 1.0}
    _public_scalars: ClassVar[tuple[str, ...]] = ("step", "eta", "mu")

    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(
            params,
            {"lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0, "weight_decay": weight_decay},
        )

    def _check_group(self, group: dict[str, Any]) -> None:
        group["lr"] = v.positive(group["lr"], "lr")
        for name in ("lambd", "alpha", "t0", "weight_decay"):
            group[name] = v.non_negative(group[name], name)

    def _state_buffers(self, group: dict[str, Any]) -> dict[str, float]:
        return {"ax": 0.0}

    def _run(
        self,
        group: dict[str, Any],
        param: np.ndarray,
        grad: np.ndarray,
        state: dict[str, np.ndarray],
        scalars: dict[str, float],
    ) -> dict[str, float]:
        as_dtype = param.dtype.type  # PyTorch keeps eta and mu as tensors of this dtype
        lr, lambd = group["lr"], group["lambd"]
        step = int(scalars["step"]) + 1
        eta = scalars["eta"] if step > 1 else float(as_dtype(lr))
        _core.asgd_step_(
            param,
            grad,
            state["ax"],
            eta,
            scalars["mu"],
            lambd=lambd,
            weight_decay=group["weight_decay"],
        )
        return {
            "step": step,
            "eta": float(as_dtype(lr / (1 + lambd * lr * step) ** group["alpha"])),
            "mu": float(as_dtype(1 / max(1, step - group["t0"]))),
        }


class Rprop(Optimizer):
    """Rprop (resilient backpropagation): each element moves by its own step size in the
    direction of ``-sign(grad)``; the step grows by ``etas[1]`` while the gradient keeps its
    sign and shrinks by ``etas[0]`` when it flips (that step is skipped).

    Parameters
    ----------
    params : iterable
        Parameters or param-group dicts.
    lr : float, default 1e-2
        Initial step size (> 0).
    etas : (float, float), default (0.5, 1.2)
        (etaminus, etaplus), with ``0 < etaminus < 1 < etaplus``.
    step_sizes : (float, float), default (1e-6, 50)
        Minimal and maximal step size, ``0 <= min <= max``.
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
    ) -> None:
        super().__init__(params, {"lr": lr, "etas": etas, "step_sizes": step_sizes})

    def _check_group(self, group: dict[str, Any]) -> None:
        group["lr"] = v.positive(group["lr"], "lr")
        etaminus, etaplus = v.real_pair(group["etas"], "etas", "(etaminus, etaplus)")
        if not 0.0 < etaminus < 1.0 < etaplus:
            msg = f"`etas` must satisfy 0 < etas[0] < 1 < etas[1], got {group['etas']!r}"
            raise ValueError(msg)
        group["etas"] = (etaminus, etaplus)
        lo, hi = v.real_pair(group["step_sizes"], "step_sizes", "(min, max)")
        lo = v.non_negative(lo, "step_sizes[0]")
        hi = v.non_negative(hi, "step_sizes[1]")
        if lo > hi:
            msg = f"`step_sizes` must be (min, max) with min <= max, got {group['step_sizes']!r}"
            raise ValueError(msg)
        group["step_sizes"] = (lo, hi)

    def _state_buffers(self, group: dict[str, Any]) -> dict[str, float]:
        return {"prev": 0.0, "step_size": group["lr"]}

    def _run(
        self,
        group: dict[str, Any],
        param: np.ndarray,
        grad: np.ndarray,
        state: dict[str, np.ndarray],
        scalars: dict[str, float],
    ) -> dict[str, float]:
        etaminus, etaplus = group["etas"]
        lo, hi = group["step_sizes"]
        _core.rprop_step_(
            param,
            grad,
            state["prev"],
            state["step_size"],
            etaminus=etaminus,
            etaplus=etaplus,
            step_size_min=lo,
            step_size_max=hi,
        )
        return {"step": scalars["step"] + 1}


class Adagrad(Optimizer):
    """Adagrad: per-coordinate steps scaled by the root of the summed squared gradients.

    Parameters
    ----------
    params : iterable
        Parameters or param-group dicts.
    lr : float, default 1e-2
        Learning rate (> 0), decayed as ``lr / (1 + (step - 1) * lr_decay)``.
    lr_decay : float, default 0
    weight_decay : float, default 0
    initial_accumulator_value : float, default 0
        Starting value of the sum of squares.
    eps : float, default 1e-10
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        super().__init__(
            params,
            {
                "lr": lr,
                "lr_decay": lr_decay,
                "weight_decay": weight_decay,
                "initial_accumulator_value": initial_accumulator_value,
                "eps": eps,
            },
        )

    def _check_group(self, group: dict[str, Any]) -> None:
        group["lr"] = v.positive(group["lr"], "lr")
        for name in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            group[name] = v.non_negative(group[name], name)

    def _state_buffers(self, group: dict[str, Any]) -> dict[str, float]:
        return {"sum": group["initial_accumulator_value"]}

    def _run(
        self,
        group: dict[str, Any],
        param: np.ndarray,
        grad: np.ndarray,
        state: dict[str, np.ndarray],
        scalars: dict[str, float],
    ) -> dict[str, float]:
        step = int(scalars["step"]) + 1
        _core.adagrad_step_(
            param,
            grad,
            state["sum"],
            step,
            lr=group["lr"],
            lr_decay=group["lr_decay"],
            weight_decay=group["weight_decay"],
            eps=group["eps"],
        )
        return {"step": step}


class RMSprop(Optimizer):
    """RMSprop, optionally centered and with heavy-ball momentum.

    Parameters
    ----------
    params : iterable
        Parameters or param-group dicts.
    lr : float, default 1e-2
    alpha : float, default 0.99
        Smoothing constant of the squared-gradient average.
    eps : float, default 1e-8
    weight_decay : float, default 0
    momentum : float, default 0
    centered : bool, default False
        Normalise by an estimate of the gradient's variance instead of its second moment.
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        super().__init__(
            params,
            {
                "lr": lr,
                "alpha": alpha,
                "eps": eps,
                "weight_decay": weight_decay,
                "momentum": momentum,
                "centered": centered,
            },
        )

    def _check_group(self, group: dict[str, Any]) -> None:
        group["lr"] = v.positive(group["lr"], "lr")
        group["alpha"] = v.in_range(group["alpha"], "alpha", 0.0, 1.0, True)
        for name in ("eps", "weight_decay", "momentum"):
            group[name] = v.non_negative(group[name], name)
        group["centered"] = v.flag(group["centered"], "centered")

    def _state_buffers(self, group: dict[str, Any]) -> dict[str, float]:
        names = {"square_avg": 0.0}
        if group["momentum"] > 0:
            names["momentum_buffer"] = 0.0
        if group["centered"]:
            names["grad_avg"] = 0.0
        return names

    def _run(
        self,
        group: dict[str, Any],
        param: np.ndarray,
        grad: np.ndarray,
        state: dict[str, np.ndarray],
        scalars: dict[str, float],
    ) -> dict[str, float]:
        _core.rmsprop_step_(
            param,
            grad,
            state["square_avg"],
            state.get("momentum_buffer"),
            state.get("grad_avg"),
            lr=group["lr"],
            alpha=group["alpha"],
            eps=group["eps"],
            weight_decay=group["weight_decay"],
            momentum=group["momentum"],
        )
        return {"step": scalars["step"] + 1}


class Adadelta(Optimizer):
    """Adadelta: steps scaled by the ratio of running RMS of updates and of gradients.

    Parameters
    ----------
    params : iterable
        Parameters or param-group dicts.
    lr : float, default 1.0
        Scale applied to the update.
    rho : float, default 0.9
        Decay of the running averages, in [0, 1].
    eps : float, default 1e-6
    weight_decay : float, default 0
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay})

    def _check_group(self, group: dict[str, Any]) -> None:
        group["lr"] = v.positive(group["lr"], "lr")
        group["rho"] = v.in_range(group["rho"], "rho", 0.0, 1.0, True)
        group["eps"] = v.non_negative(group["eps"], "eps")
        group["weight_decay"] = v.non_negative(group["weight_decay"], "weight_decay")

    def _state_buffers(self, group: dict[str, Any]) -> dict[str, float]:
        return {"square_avg": 0.0, "acc_delta": 0.0}

    def _run(
        self,
        group: dict[str, Any],
        param: np.ndarray,
        grad: np.ndarray,
        state: dict[str, np.ndarray],
        scalars: dict[str, float],
    ) -> dict[str, float]:
        _core.adadelta_step_(
            param,
            grad,
            state["square_avg"],
            state["acc_delta"],
            lr=group["lr"],
            rho=group["rho"],
            eps=group["eps"],
            weight_decay=group["weight_decay"],
        )
        return {"step": scalars["step"] + 1}
