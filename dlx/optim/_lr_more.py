"""Schedules from a user function, polynomial decay, warm restarts, and chaining:
LambdaLR, MultiplicativeLR, PolynomialLR, CosineAnnealingWarmRestarts, ChainedScheduler.

Exported from dlx.optim.lr_scheduler; PyTorch's formulas (its recursive forms, so the
learning rates agree bit for bit) and its ``state_dict`` contents.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable, Sequence
from typing import Any

from dlx.optim import _validation as v
from dlx.optim._lr_base import LRScheduler, _check_optimizer
from dlx.optim.optimizer import Optimizer


def _lambdas(optimizer: Optimizer, lr_lambda: Any) -> list[Callable[[int], float]]:
    """One callable per param group (a single callable is shared)."""
    n = len(optimizer.param_groups)
    fns = list(lr_lambda) if isinstance(lr_lambda, list | tuple) else [lr_lambda] * n
    if len(fns) != n:
        msg = f"`lr_lambda` must have one function per param group ({n}), got {len(fns)}"
        raise ValueError(msg)
    for fn in fns:
        if not callable(fn):
            msg = f"`lr_lambda` must be a function of the epoch, got {type(fn).__name__}"
            raise TypeError(msg)
    return fns


class _LambdaBase(LRScheduler):
    """Keeps ``lr_lambdas``; the state dict holds, as PyTorch's, None for plain functions
    and the attribute dict of callable objects (functions themselves are never saved)."""

    lr_lambdas: list[Callable[[int], float]]

    def state_dict(self) -> dict[str, Any]:
        out = {k: val for k, val in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        out["lr_lambdas"] = [
            None if isinstance(fn, types.FunctionType) else dict(fn.__dict__)
            for fn in self.lr_lambdas
        ]
        return out

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        saved = state.pop("lr_lambdas", [None] * len(self.lr_lambdas))
        self.__dict__.update(state)
        for fn, attrs in zip(self.lr_lambdas, saved, strict=False):
            if attrs is not None:
                fn.__dict__.update(attrs)


class LambdaLR(_LambdaBase):
    """``lr = initial_lr * lr_lambda(epoch)`` (one function, or one per param group)."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Any, last_epoch: int = -1) -> None:
        self.lr_lambdas = _lambdas(_check_optimizer(optimizer), lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [
            base * fn(self.last_epoch)
            for fn, base in zip(self.lr_lambdas, self.base_lrs, strict=True)
        ]


class MultiplicativeLR(_LambdaBase):
    """Multiply the lr by ``lr_lambda(epoch)`` every epoch (not at construction)."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Any, last_epoch: int = -1) -> None:
        self.lr_lambdas = _lambdas(_check_optimizer(optimizer), lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._lrs()
        return [
            lr * fn(self.last_epoch) for fn, lr in zip(self.lr_lambdas, self._lrs(), strict=True)
        ]


class PolynomialLR(LRScheduler):
    """Decay to 0 over `total_iters` epochs: ``initial_lr * (1 - epoch / total_iters)**power``."""

    def __init__(
        self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1
    ) -> None:
        self.total_iters = v.positive_int(total_iters, "total_iters")
        self.power = v.real(power, "power")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        e, n = self.last_epoch, self.total_iters
        if self._is_initial or e > n:
            return self._lrs()
        factor = ((1.0 - e / n) / (1.0 - (e - 1) / n)) ** self.power
        return [lr * factor for lr in self._lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        n = self.total_iters
        return [base * (1.0 - min(n, self.last_epoch) / n) ** self.power for base in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    """Cosine annealing from the initial lr to `eta_min` over ``T_i`` epochs, then a restart;
    the first period is `T_0`, each next one `T_mult` times longer (SGDR).

    ``step()`` advances one epoch; ``step(epoch)`` jumps to ``epoch``, which may be
    fractional (``step(epoch + i / iters)`` inside an epoch), as in PyTorch.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        T_0: int,
        T_mult: int = 1,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        self.T_0 = v.positive_int(T_0, "T_0")
        self.T_i = self.T_0
        self.T_mult = v.positive_int(T_mult, "T_mult")
        self.eta_min = v.real(eta_min, "eta_min")
        self.T_cur: float = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [
            self.eta_min
            + (base - self.eta_min) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
            for base in self.base_lrs
        ]

    def step(self, epoch: float | None = None) -> None:  # type: ignore[override]
        """Advance one epoch, or go to `epoch` (a number >= 0, possibly fractional)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            e = v.real(epoch, "epoch")
            if e < 0:
                msg = f"`epoch` must be >= 0, got {epoch!r}"
                raise ValueError(msg)
            if e >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = e % self.T_0
                else:
                    n = int(math.log(e / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                    self.T_cur = e - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult**n
            else:
                self.T_i = self.T_0
                self.T_cur = e
        self._step_count += 1
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self._last_lr = self._lrs()


class ChainedScheduler(LRScheduler):
    """Step several schedulers of one optimiser together, each after the other, so their
    (multiplicative) effects compose."""

    def __init__(
        self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None
    ) -> None:
        scheds = list(schedulers)
        if not scheds:
            msg = "`schedulers` is empty: ChainedScheduler needs at least one scheduler"
            raise ValueError(msg)
        opt = _check_optimizer(optimizer if optimizer is not None else scheds[0].optimizer)
        for i, s in enumerate(scheds):
            if not isinstance(s, LRScheduler):
                msg = f"`schedulers[{i}]` must be an LRScheduler, got {type(s).__name__}"
                raise TypeError(msg)
            if type(s).__name__ == "ReduceLROnPlateau":
                msg = (
                    f"`schedulers[{i}]` is a ReduceLROnPlateau, whose step needs a metric; "
                    "ChainedScheduler cannot step it"
                )
                raise ValueError(msg)
            if s.optimizer is not opt:
                msg = f"`schedulers[{i}]` ({type(s).__name__}) schedules another optimiser"
                raise ValueError(msg)
        self._schedulers = scheds
        self.optimizer = opt
        self._last_lr = self._lrs()

    def step(self) -> None:
        for s in self._schedulers:
            s.step()
        self._last_lr = self._lrs()

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
