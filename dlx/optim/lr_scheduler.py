"""Learning-rate schedules with ``torch.optim.lr_scheduler`` semantics.

A scheduler rewrites ``group["lr"]`` of its optimiser's param groups; call
``scheduler.step()`` once per epoch (or per batch for OneCycleLR) after
``optimizer.step()``, and ``scheduler.step(metric)`` for ReduceLROnPlateau. The formulas
are PyTorch's, including its recursive (chainable) forms, so the learning rates agree
with torch's bit for bit. ``state_dict()`` holds every attribute but the optimiser.
The deprecated ``step(epoch)`` form is not supported, except by
CosineAnnealingWarmRestarts, where PyTorch documents it (fractional epochs).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable
from typing import Any

from dlx.optim import _validation as v
from dlx.optim._lr_base import LRScheduler
from dlx.optim._lr_cycle import CyclicLR, OneCycleLR, ReduceLROnPlateau
from dlx.optim._lr_more import (
    ChainedScheduler,
    CosineAnnealingWarmRestarts,
    LambdaLR,
    MultiplicativeLR,
    PolynomialLR,
)
from dlx.optim.optimizer import Optimizer

__all__ = [
    "ChainedScheduler",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "CyclicLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "MultiplicativeLR",
    "OneCycleLR",
    "PolynomialLR",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
]


class StepLR(LRScheduler):
    """Multiply the learning rate by `gamma` every `step_size` epochs."""

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.step_size = v.positive_int(step_size, "step_size")
        self.gamma = v.real(gamma, "gamma")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the learning rate by `gamma` at each epoch listed in `milestones`."""

    def __init__(
        self,
        optimizer: Optimizer,
        milestones: Iterable[int],
        gamma: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        ms = list(milestones)
        for m in ms:
            if isinstance(m, bool) or not isinstance(m, int) or m < 0:
                msg = f"`milestones` must be ints >= 0, got {m!r}"
                raise ValueError(msg)
        self.milestones = Counter(ms)
        self.gamma = v.real(gamma, "gamma")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return self._lrs()
        return [lr * self.gamma ** self.milestones[self.last_epoch] for lr in self._lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        ms = sorted(self.milestones.elements())
        return [base * self.gamma ** bisect_right(ms, self.last_epoch) for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by `gamma` every epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = v.real(gamma, "gamma")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Cosine annealing from the initial lr to `eta_min` over `T_max` epochs (SGDR, no restarts)."""

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        self.T_max = v.positive_int(T_max, "T_max")
        self.eta_min = v.non_negative(eta_min, "eta_min")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        e, t_max, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._lrs()
        if self._step_count == 1 and e > 0:
            return [
                eta_min + (base - eta_min) * (1 + math.cos(e * math.pi / t_max)) / 2
                for base in self.base_lrs
            ]
        if (e - 1 - t_max) % (2 * t_max) == 0:
            return [
                lr + (base - eta_min) * (1 - math.cos(math.pi / t_max)) / 2
                for base, lr in zip(self.base_lrs, self._lrs(), strict=True)
            ]
        return [
            (1 + math.cos(math.pi * e / t_max))
            / (1 + math.cos(math.pi * (e - 1) / t_max))
            * (lr - eta_min)
            + eta_min
            for lr in self._lrs()
        ]

    def _get_closed_form_lr(self) -> list[float]:
        e, t_max, eta_min = self.last_epoch, self.T_max, self.eta_min
        return [
            eta_min + (base - eta_min) * (1 + math.cos(math.pi * e / t_max)) / 2
            for base in self.base_lrs
        ]


class LinearLR(LRScheduler):
    """Scale the lr linearly from `start_factor` to `end_factor` over `total_iters` (warm-up)."""

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ) -> None:
        start, end = v.real(start_factor, "start_factor"), v.real(end_factor, "end_factor")
        if not 0 < start <= 1:
            msg = f"`start_factor` must be in (0, 1], got {start_factor!r}"
            raise ValueError(msg)
        self.start_factor = start
        self.end_factor = v.in_range(end, "end_factor", 0.0, 1.0, True)
        self.total_iters = v.positive_int(total_iters, "total_iters")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        e, start, end = self.last_epoch, self.start_factor, self.end_factor
        if e == 0:
            return [lr * start for lr in self._lrs()]
        if self._is_initial or e > self.total_iters:
            return self._lrs()
        factor = 1.0 + (end - start) / (self.total_iters * start + (e - 1) * (end - start))
        return [lr * factor for lr in self._lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        start, end, n = self.start_factor, self.end_factor, self.total_iters
        return [
            base * (start + (end - start) * min(n, self.last_epoch) / n) for base in self.base_lrs
        ]


class SequentialLR(LRScheduler):
    """Run `schedulers` one after another: the k-th takes over at epoch ``milestones[k-1]``,
    restarting from its own epoch 0 (closed form where it has one, as PyTorch)."""

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: list[LRScheduler],
        milestones: list[int],
        last_epoch: int = -1,
    ) -> None:
        scheds = list(schedulers)
        if not scheds:
            msg = "`schedulers` is empty: SequentialLR needs at least one scheduler"
            raise ValueError(msg)
        for i, s in enumerate(scheds):
            if not isinstance(s, LRScheduler):
                msg = f"`schedulers[{i}]` must be an LRScheduler, got {type(s).__name__}"
                raise TypeError(msg)
            if isinstance(s, ReduceLROnPlateau):
                msg = (
                    f"`schedulers[{i}]` is a ReduceLROnPlateau, whose step needs a metric; "
                    "SequentialLR cannot step it"
                )
                raise ValueError(msg)  # noqa: TRY004 - a value rule (PyTorch's ValueError)
            if s.optimizer is not optimizer:
                msg = f"`schedulers[{i}]` ({type(s).__name__}) schedules another optimiser"
                raise ValueError(msg)
        ms = list(milestones)
        if len(ms) != len(scheds) - 1:
            msg = (
                f"`milestones` must have one entry fewer than `schedulers` ({len(scheds)}), "
                f"got {len(ms)}"
            )
            raise ValueError(msg)
        for m in ms:
            if isinstance(m, bool) or not isinstance(m, int) or m < 0:
                msg = f"`milestones` must be ints >= 0, got {m!r}"
                raise ValueError(msg)
        self._schedulers = scheds
        self._milestones = ms
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        for s in scheds:  # undo the step each one made when it was built
            s.last_epoch -= 1
        first = scheds[bisect_right(ms, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def step(self) -> None:
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        s = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            s._update_lr(0)
        else:
            s.step()
        self._last_lr = s.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        out = {k: val for k, val in self.__dict__.items() if k not in ("optimizer", "_schedulers")}
        out["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return out

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        saved = state.pop("_schedulers")
        self.__dict__.update(state)
        for s, st in zip(self._schedulers, saved, strict=True):
            s.load_state_dict(st)
