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
from collections import Counter
from collections.abc import Iterable

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


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by `gamma` every epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = v.real(gamma, "gamma")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._lrs()
        return [lr * self.gamma for lr in self._lrs()]


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
