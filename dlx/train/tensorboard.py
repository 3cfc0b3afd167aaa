"""``TensorBoardLogger``: a ``fit`` callback writing TensorBoard event files (tensorboardX).

Needs the optional ``tensorboardX`` package (``pip install "dlx[tensorboard]"``); view the
runs with ``tensorboard --logdir runs``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from dlx.train._distributed import is_main_process
from dlx.train.callbacks import Callback

_HINT = (
    'TensorBoardLogger needs tensorboardX, which is not installed: pip install "dlx[tensorboard]"'
)


def _summary_writer() -> Any:
    try:
        from tensorboardX import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
            SummaryWriter,
        )
    except ImportError:
        raise ImportError(_HINT) from None
    return SummaryWriter


class TensorBoardLogger(Callback):
    """Log a ``fit`` run for TensorBoard.

    Writes, under ``log_dir``:

    * ``epoch/<key>``: every epoch log (``loss``, ``accuracy``, ``val_loss``, ``lr`` ...)
      at step ``epoch`` (1-based);
    * ``step/loss``: the batch loss every ``update_freq`` optimiser steps, at the global step;
    * ``weights/<name>`` and ``gradients/<name>``: histograms of every parameter and of its
      gradient (the last batch's) every ``histogram_freq`` epochs;
    * ``model/architecture``: the model as text (``model.summary(input_shape)`` when
      ``input_shape`` is given, else its ``repr``), once at the start.

    Parameters
    ----------
    log_dir : str or os.PathLike
        The run's directory (created if missing; one event file per run).
    update_freq : int
        Optimiser steps between ``step/loss`` points; 0 logs per epoch only.
    histogram_freq : int
        Epochs between histograms; 0 writes none.
    input_shape : tuple of int, optional
        Per-sample input shape for the architecture table.

    In a distributed run only rank 0 writes. Needs ``tensorboardX``.
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str] = "runs",
        update_freq: int = 1,
        histogram_freq: int = 1,
        input_shape: tuple[int, ...] | None = None,
    ) -> None:
        for name, value in (("update_freq", update_freq), ("histogram_freq", histogram_freq)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                msg = f"`{name}` must be a non-negative int, got {value!r}"
                raise ValueError(msg)
        self._writer_class = _summary_writer()  # fail at construction, not after an epoch
        self.log_dir = os.fspath(log_dir)
        self.update_freq, self.histogram_freq = update_freq, histogram_freq
        self.input_shape = None if input_shape is None else tuple(int(d) for d in input_shape)
        self.writer: Any = None

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        if not is_main_process():
            return
        self.writer = self._writer_class(logdir=self.log_dir)
        model = self.state.model
        if self.input_shape is not None and hasattr(model, "summary"):
            text = model.summary(self.input_shape)
        else:
            text = repr(model)
        # TensorBoard renders text as Markdown: indent four spaces to keep it a code block.
        block = "\n".join("    " + line for line in str(text).splitlines())
        self.writer.add_text("model/architecture", block, self.state.step)

    def on_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        if self.writer is None or not self.update_freq or not logs or "loss" not in logs:
            return
        if self.state.step % self.update_freq == 0:
            self.writer.add_scalar("step/loss", float(logs["loss"]), self.state.step)

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        if self.writer is None:
            return
        for key, value in (logs or {}).items():
            self.writer.add_scalar(f"epoch/{key}", float(value), epoch + 1)
        if self.histogram_freq and (epoch + 1) % self.histogram_freq == 0:
            for name, p in self.state.model.named_parameters():
                self.writer.add_histogram(f"weights/{name}", np.asarray(p), epoch + 1)
                if p.grad is not None:
                    self.writer.add_histogram(f"gradients/{name}", np.asarray(p.grad), epoch + 1)
        self.writer.flush()

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
