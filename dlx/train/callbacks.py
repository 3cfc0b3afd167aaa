"""Callbacks: hooks into ``fit`` (early stopping, checkpoints, LR schedules, CSV logs).

Every callback gets ``self.state`` (the running :class:`TrainState`: ``model``,
``optimizer``, ``scheduler``, ``history``, ``epoch``, ``step``) before training starts.
Setting ``self.state.stop_training = True`` ends training after the current epoch.
"""

from __future__ import annotations

import copy
import csv
import math
import os
import sys
from typing import Any

from dlx.train._distributed import is_main_process as _is_main_process  # no MPI import


class TrainState:
    """What callbacks can see and steer while ``fit`` runs."""

    def __init__(self, model: Any, optimizer: Any, scheduler: Any, history: Any) -> None:
        self.model, self.optimizer, self.scheduler, self.history = (
            model,
            optimizer,
            scheduler,
            history,
        )
        self.loader: Any = None
        self.epoch = 0  # current epoch (0-based)
        self.step = 0  # optimiser steps taken so far in the whole run
        self.stop_training = False
        self.callbacks: list[Callback] = []
        self.verbose = 0  # fit's verbosity on this process (0 on ranks other than 0)


class Callback:
    """Base class: override any hook. ``logs`` holds the latest losses and metrics."""

    state: TrainState

    def set_state(self, state: TrainState) -> None:
        """Called by ``fit`` before ``on_train_begin``."""
        self.state = state

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        """Before the first epoch."""

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        """After the last epoch (also after an interruption)."""

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        """Before epoch ``epoch`` (0-based)."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        """After epoch ``epoch`` with its train and validation logs."""

    def on_batch_begin(self, batch: int, logs: dict[str, float] | None = None) -> None:
        """Before batch ``batch`` of the current epoch."""

    def on_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        """After batch ``batch``; ``logs`` has its ``loss`` and ``size``."""

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable state saved in training checkpoints (default: none)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output when resuming."""


def _monitor_mode(monitor: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        msg = f'`mode` must be "auto", "min" or "max", got {mode!r}'
        raise ValueError(msg)
    if mode == "auto":
        return "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"
    return mode


def _monitored(logs: dict[str, float] | None, monitor: str, who: str) -> float:
    if not logs or monitor not in logs:
        known = sorted(logs or {})
        msg = f"{who}: monitored value {monitor!r} is not in the logs {known} (validation data?)"
        raise KeyError(msg)
    return float(logs[monitor])


class _Monitor:
    """Best-so-far bookkeeping shared by EarlyStopping and ModelCheckpoint."""

    def __init__(self, monitor: str, mode: str, min_delta: float) -> None:
        self.monitor, self.mode = monitor, _monitor_mode(monitor, mode)
        self.min_delta = abs(float(min_delta))
        self.best = math.inf if self.mode == "min" else -math.inf

    def improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    Parameters
    ----------
    monitor : str
        A log key, e.g. ``"val_loss"`` (default) or ``"val_accuracy"``.
    patience : int
        Epochs without improvement to wait before stopping.
    min_delta : float
        Smallest change that counts as an improvement.
    mode : {"auto", "min", "max"}
        Whether lower or higher is better ("auto": max for accuracy-like keys).
    restore_best_weights : bool
        Copy the best epoch's weights back into the model when training ends.
    verbose : int, optional
        At 1 or more, say on stderr when and why training stopped (epoch, monitored value,
        best epoch) and which weights were restored. None (default) follows ``fit``'s
        ``verbose``.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
        verbose: int | None = None,
    ) -> None:
        if not isinstance(patience, int) or patience < 0:
            msg = f"`patience` must be a non-negative int, got {patience!r}"
            raise ValueError(msg)
        if verbose is not None and (isinstance(verbose, bool) or not isinstance(verbose, int)):
            msg = f"`verbose` must be an int or None, got {verbose!r}"
            raise TypeError(msg)
        self.verbose = verbose
        self._m = _Monitor(monitor, mode, min_delta)
        self.monitor, self.patience = monitor, patience
        self.restore_best_weights = restore_best_weights
        self.wait = 0
        self.best_epoch = -1
        self.stopped_epoch = -1
        self.best_weights: dict[str, Any] | None = None

    @property
    def best(self) -> float:
        return self._m.best

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        value = _monitored(logs, self.monitor, "EarlyStopping")
        if self._m.improved(value):
            self._m.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = copy.deepcopy(dict(self.state.model.state_dict()))
            return
        self.wait += 1
        if self.wait >= max(self.patience, 1):
            self.stopped_epoch = epoch
            self.state.stop_training = True
            self._say(
                f"EarlyStopping: stopped after epoch {epoch + 1}: {self.monitor} = {value:.6g} "
                f"has not improved on {self._m.best:.6g} (epoch {self.best_epoch + 1}) for "
                f"{self.wait} epoch{'s' if self.wait > 1 else ''} (patience {self.patience})"
            )

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.state.model.load_state_dict(self.best_weights)
            self._say(
                f"EarlyStopping: restored the weights of epoch {self.best_epoch + 1} "
                f"({self.monitor} = {self._m.best:.6g})"
            )

    def _say(self, message: str) -> None:
        level = self.verbose if self.verbose is not None else self.state.verbose
        if level >= 1 and _is_main_process():
            sys.stderr.write(message + "\n")
            sys.stderr.flush()

    def state_dict(self) -> dict[str, Any]:
        return {"wait": self.wait, "best": self._m.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.wait, self._m.best = int(state["wait"]), float(state["best"])
        self.best_epoch = int(state["best_epoch"])


class ModelCheckpoint(Callback):
    """Save the model after every epoch, or only when ``monitor`` improves.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; may contain ``{epoch}`` (1-based) and any log key, e.g.
        ``"model-{epoch:02d}-{val_loss:.3f}.safetensors"``. Written atomically.
    monitor : str
        The log key deciding "best" (default ``"val_loss"``).
    save_best_only : bool
        Save only when the monitored value improves.
    mode : {"auto", "min", "max"}
        Whether lower or higher is better.
    training_state : bool
        Write a full training checkpoint (model, optimiser, scheduler, epoch, RNG
        states; see :func:`dlx.train.save_checkpoint`) that ``fit(resume_from=path)``
        continues, instead of a ``dlx.save`` model file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        monitor: str = "val_loss",
        save_best_only: bool = False,
        mode: str = "auto",
        training_state: bool = False,
    ) -> None:
        self.path = os.fspath(path)
        self.monitor, self.save_best_only = monitor, save_best_only
        self.training_state = training_state
        self._m = _Monitor(monitor, mode, 0.0)
        self.last_saved: str | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        if self.save_best_only:
            value = _monitored(logs, self.monitor, "ModelCheckpoint")
            if not self._m.improved(value):
                return
            self._m.best = value
        path = self.path.format(epoch=epoch + 1, **logs)
        if not _is_main_process():  # distributed: only rank 0 writes (all ranks track best)
            return
        if self.training_state:
            from dlx.train.checkpoint import save_training_state

            save_training_state(path, self.state, next_epoch=epoch + 1)
        else:
            from dlx.io.model import save

            save(self.state.model, path)
        self.last_saved = path

    def state_dict(self) -> dict[str, Any]:
        return {"best": self._m.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._m.best = float(state["best"])


class LRSchedulerCallback(Callback):
    """Step a learning-rate scheduler once per epoch.

    ``ReduceLROnPlateau`` is stepped with the monitored value (``monitor``, default
    ``"val_loss"``, falling back to ``"loss"`` without validation data).
    """

    def __init__(self, scheduler: Any, monitor: str = "val_loss") -> None:
        self.scheduler, self.monitor = scheduler, monitor

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        step_scheduler(self.scheduler, logs or {}, self.monitor)


def step_scheduler(scheduler: Any, logs: dict[str, float], monitor: str = "val_loss") -> None:
    """``scheduler.step()``, or ``scheduler.step(logs[monitor])`` for ReduceLROnPlateau."""
    from dlx.optim.lr_scheduler import ReduceLROnPlateau

    if isinstance(scheduler, ReduceLROnPlateau):
        key = monitor if monitor in logs else "loss"
        scheduler.step(_monitored(logs, key, "LRSchedulerCallback"))
    else:
        scheduler.step()


class CSVLogger(Callback):
    """Write one CSV row per epoch (``epoch`` then every log key) to ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        The CSV file.
    append : bool
        Append to an existing file (e.g. when resuming) instead of overwriting it.
    """

    def __init__(self, path: str | os.PathLike[str], append: bool = False) -> None:
        self.path, self.append = os.fspath(path), append
        self._keys: list[str] | None = None

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self._keys = None
        if not self.append and _is_main_process():
            with open(self.path, "w", newline="", encoding="utf-8"):
                pass

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        if not _is_main_process():
            return
        new = not os.path.exists(self.path) or os.path.getsize(self.path) == 0
        if self._keys is None:
            self._keys = sorted(logs)
        with open(self.path, "a", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            if new:
                writer.writerow(["epoch", *self._keys])
            writer.writerow([epoch, *(logs.get(k, "") for k in self._keys)])
