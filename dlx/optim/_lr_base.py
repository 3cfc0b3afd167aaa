"""The scheduler base class and its helpers (public names live in dlx.optim.lr_scheduler)."""

from __future__ import annotations

from typing import Any

from dlx.optim import _validation as v
from dlx.optim.optimizer import Optimizer


def _check_optimizer(optimizer: Any) -> Optimizer:
    if not isinstance(optimizer, Optimizer):
        msg = f"`optimizer` must be a dlx.optim.Optimizer, got {type(optimizer).__name__}"
        raise TypeError(msg)
    return optimizer


def _per_group(name: str, optimizer: Optimizer, value: Any) -> list[float]:
    """A value per param group: a list of that length, or one value for all groups."""
    n = len(optimizer.param_groups)
    if isinstance(value, list | tuple):
        if len(value) != n:
            msg = f"`{name}` must have one value per param group ({n}), got {len(value)}"
            raise ValueError(msg)
        return [v.real(x, name) for x in value]
    return [v.real(value, name)] * n


class LRScheduler:
    """Base class: keeps ``base_lrs`` and ``last_epoch`` and applies :meth:`get_lr`.

    Parameters
    ----------
    optimizer : Optimizer
        The optimiser whose ``group["lr"]`` values are scheduled.
    last_epoch : int, default -1
        Index of the last epoch; -1 starts fresh, other values resume (the groups must
        then hold ``initial_lr``).
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        self.optimizer = _check_optimizer(optimizer)
        if not isinstance(last_epoch, int) or isinstance(last_epoch, bool) or last_epoch < -1:
            msg = f"`last_epoch` must be an int >= -1, got {last_epoch!r}"
            raise ValueError(msg)
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    msg = (
                        f"param group {i} has no `initial_lr`: resuming with "
                        "`last_epoch` >= 0 needs the optimiser state loaded first"
                    )
                    raise KeyError(msg)
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:
        """The learning rates for the epoch ``last_epoch`` (already incremented)."""
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the latest step."""
        return self._last_lr

    def _lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def step(self) -> None:
        """Advance one epoch and write the new learning rates into the param groups."""
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self._last_lr = self._lrs()

    def _initial_step(self) -> None:
        """Take the first step again, as at construction (SequentialLR's hand-over)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def _update_lr(self, epoch: int) -> None:
        """Jump to `epoch`: the closed form where the schedule has one, else get_lr()."""
        self.last_epoch = epoch
        closed = getattr(self, "_get_closed_form_lr", None)
        values = closed() if closed is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values, strict=True):
            group["lr"] = lr
        self._last_lr = self._lrs()

    def state_dict(self) -> dict[str, Any]:
        """Every attribute except the optimiser."""
        return {k: val for k, val in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore attributes saved by :meth:`state_dict`."""
        self.__dict__.update(state_dict)
