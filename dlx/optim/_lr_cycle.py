"""Schedules that follow the batch count or a metric: OneCycleLR, CyclicLR, ReduceLROnPlateau.

Exported from dlx.optim.lr_scheduler; PyTorch's formulas and semantics.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from typing import Any

from dlx.optim import _validation as v
from dlx.optim._lr_base import LRScheduler, _check_optimizer, _per_group
from dlx.optim.optimizer import Optimizer


class OneCycleLR(LRScheduler):
    """The 1cycle policy: warm up to `max_lr`, then anneal far below the start (Smith).

    Momentum (or Adam's beta1) cycles inversely between `max_momentum` and
    `base_momentum` when `cycle_momentum`. Step it once per batch.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer(optimizer)
        if total_steps is not None:
            self.total_steps = v.positive_int(total_steps, "total_steps")
        elif epochs is not None and steps_per_epoch is not None:
            self.total_steps = v.positive_int(epochs, "epochs") * v.positive_int(
                steps_per_epoch, "steps_per_epoch"
            )
        else:
            msg = "give either `total_steps` or both `epochs` and `steps_per_epoch`"
            raise ValueError(msg)
        pct = v.in_range(pct_start, "pct_start", 0.0, 1.0, True)
        if anneal_strategy not in ("cos", "linear"):
            msg = f"`anneal_strategy` must be 'cos' or 'linear', got {anneal_strategy!r}"
            raise ValueError(msg)
        self.anneal_strategy = anneal_strategy
        n = self.total_steps
        if three_phase:
            self._schedule_phases = [
                (float(pct * n) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (float(2 * pct * n) - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                (n - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            self._schedule_phases = [
                (float(pct * n) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (n - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        max_lrs = _per_group("max_lr", optimizer, max_lr)
        div = v.positive(div_factor, "div_factor")
        final_div = v.positive(final_div_factor, "final_div_factor")
        if last_epoch == -1:
            for group, top in zip(optimizer.param_groups, max_lrs, strict=True):
                group["initial_lr"] = top / div
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div
        self.cycle_momentum = v.flag(cycle_momentum, "cycle_momentum")
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                msg = (
                    "`cycle_momentum` needs an optimiser with `momentum` or `betas`; pass "
                    "cycle_momentum=False"
                )
                raise ValueError(msg)
            self.use_beta1 = "betas" in optimizer.defaults
            tops = _per_group("max_momentum", optimizer, max_momentum)
            bases = _per_group("base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for top, base, group in zip(tops, bases, optimizer.param_groups, strict=True):
                    if self.use_beta1:
                        group["betas"] = (top, *group["betas"][1:])
                    else:
                        group["momentum"] = top
                    group["max_momentum"] = top
                    group["base_momentum"] = base
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            msg = (
                f"OneCycleLR stepped {step} times but `total_steps` is {self.total_steps}; "
                "it cannot go further"
            )
            raise ValueError(msg)
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, (end_step, lr0, lr1, m0, m1) in enumerate(self._schedule_phases):
                if step <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step - start_step) / (end_step - start_step)
                    lr = self._anneal(group[lr0], group[lr1], pct)
                    if self.cycle_momentum:
                        momentum = self._anneal(group[m0], group[m1], pct)
                    break
                start_step = end_step
            lrs.append(lr)
            if self.cycle_momentum:
                if self.use_beta1:
                    group["betas"] = (momentum, *group["betas"][1:])
                else:
                    group["momentum"] = momentum
        return lrs


class CyclicLR(LRScheduler):
    """Cyclical learning rates (Smith): the lr goes from `base_lr` up to `max_lr` over
    `step_size_up` steps and back over `step_size_down` (default: the same), with the
    amplitude scaled per cycle (``"triangular"``: 1, ``"triangular2"``: halved each cycle)
    or per step (``"exp_range"``: ``gamma ** step``), or by a user ``scale_fn`` evaluated
    per ``scale_mode`` ("cycle" or "iterations"). With `cycle_momentum`, momentum (or
    Adam's beta1) moves inversely between `max_momentum` and `base_momentum`. Step it once
    per batch.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        base_lr: float | list[float],
        max_lr: float | list[float],
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[float], float] | None = None,
        scale_mode: str = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.8,
        max_momentum: float | list[float] = 0.9,
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer(optimizer)
        base_lrs = _per_group("base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups, strict=True):
                group["lr"] = lr
        self.max_lrs = _per_group("max_lr", optimizer, max_lr)
        up = float(v.positive_int(step_size_up, "step_size_up"))
        down = (
            up
            if step_size_down is None
            else float(v.positive_int(step_size_down, "step_size_down"))
        )
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if scale_fn is None and mode not in ("triangular", "triangular2", "exp_range"):
            msg = (
                f"`mode` must be 'triangular', 'triangular2' or 'exp_range' (or give "
                f"`scale_fn`), got {mode!r}"
            )
            raise ValueError(msg)
        if scale_fn is not None and not callable(scale_fn):
            msg = f"`scale_fn` must be a function or None, got {type(scale_fn).__name__}"
            raise TypeError(msg)
        if scale_mode not in ("cycle", "iterations"):
            msg = f"`scale_mode` must be 'cycle' or 'iterations', got {scale_mode!r}"
            raise ValueError(msg)
        self.mode = mode
        self.gamma = v.real(gamma, "gamma")
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        self._init_scale_mode()
        self.cycle_momentum = v.flag(cycle_momentum, "cycle_momentum")
        if self.cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                msg = (
                    "`cycle_momentum` needs an optimiser with `momentum` or `betas`; pass "
                    "cycle_momentum=False"
                )
                raise ValueError(msg)
            self.use_beta1 = "betas" in optimizer.defaults
            self.base_momentums = _per_group("base_momentum", optimizer, base_momentum)
            self.max_momentums = _per_group("max_momentum", optimizer, max_momentum)
            if last_epoch == -1:
                for top, base, group in zip(
                    self.max_momentums, self.base_momentums, optimizer.param_groups, strict=True
                ):
                    if self.use_beta1:
                        group["betas"] = (top, *group["betas"][1:])
                    else:
                        group["momentum"] = top
                    group["max_momentum"] = top
                    group["base_momentum"] = base
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _init_scale_mode(self) -> None:
        if self._scale_fn_custom is None:
            self.scale_mode = "iterations" if self.mode == "exp_range" else "cycle"

    def scale_fn(self, x: float) -> float:
        """The amplitude factor at cycle (or step) `x`."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / 2.0 ** (x - 1)
        return self.gamma**x

    def get_lr(self) -> list[float]:
        e = self.last_epoch
        cycle = math.floor(1 + e / self.total_size)
        x = 1.0 + e / self.total_size - cycle
        rising = x <= self.step_ratio
        factor = x / self.step_ratio if rising else (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else e)
        lrs = [
            base + ((top - base) * factor) * scale
            for base, top in zip(self.base_lrs, self.max_lrs, strict=True)
        ]
        if self.cycle_momentum:
            for group, base, top in zip(
                self.optimizer.param_groups, self.base_momentums, self.max_momentums, strict=True
            ):
                momentum = top - ((top - base) * factor) * scale
                if self.use_beta1:
                    group["betas"] = (momentum, *group["betas"][1:])
                else:
                    group["momentum"] = momentum
        return lrs

    def state_dict(self) -> dict[str, Any]:
        """As PyTorch: a plain-function `scale_fn` is saved as None, a callable object as its
        attribute dict."""
        state = super().state_dict()
        fn = state.pop("_scale_fn_custom")
        state["_scale_fn_custom"] = (
            None if fn is None or isinstance(fn, types.FunctionType) else dict(fn.__dict__)
        )
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        fn = state.pop("_scale_fn_custom", None)
        super().load_state_dict(state)
        if fn is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom.__dict__.update(fn)
        self._init_scale_mode()


class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by `factor` once a metric stops improving for `patience` epochs.

    Call ``step(metric)`` after each evaluation.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | list[float] = 0,
        eps: float = 1e-8,
    ) -> None:
        self.optimizer = _check_optimizer(optimizer)
        factor = v.real(factor, "factor")
        if not 0 <= factor < 1:
            msg = f"`factor` must be in [0, 1), got {factor!r}"
            raise ValueError(msg)
        self.factor = factor
        if isinstance(min_lr, list | tuple):
            self.default_min_lr = None
        else:
            self.default_min_lr = v.non_negative(min_lr, "min_lr")
        self.min_lrs = _per_group("min_lr", optimizer, min_lr)
        for name, val in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(val, bool) or not isinstance(val, int) or val < 0:
                msg = f"`{name}` must be an int >= 0, got {val!r}"
                raise ValueError(msg)
        self.patience, self.cooldown = patience, cooldown
        self.eps = v.non_negative(eps, "eps")
        self.threshold = v.non_negative(threshold, "threshold")
        if mode not in ("min", "max"):
            msg = f"`mode` must be 'min' or 'max', got {mode!r}"
            raise ValueError(msg)
        if threshold_mode not in ("rel", "abs"):
            msg = f"`threshold_mode` must be 'rel' or 'abs', got {threshold_mode!r}"
            raise ValueError(msg)
        self.mode, self.threshold_mode = mode, threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.last_epoch = 0
        self._last_lr = self._lrs()
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def step(self, metrics: float) -> None:  # type: ignore[override]
        """Record one evaluation of the monitored metric; reduce the lr on a plateau."""
        current = float(metrics)
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._lrs()

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                msg = (
                    f"the optimiser has {len(groups)} param groups but `min_lr` has "
                    f"{len(self.min_lrs)} values; update `min_lrs`"
                )
                raise RuntimeError(msg)
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, floor in zip(groups, self.min_lrs, strict=True):
            old = float(group["lr"])
            new = max(old * self.factor, floor)
            if old - new > self.eps:
                group["lr"] = new

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min":
            return (
                a < best * (1.0 - self.threshold)
                if self.threshold_mode == "rel"
                else a < best - self.threshold
            )
        return (
            a > best * (self.threshold + 1.0)
            if self.threshold_mode == "rel"
            else a > best + self.threshold
        )
