"""Training: ``fit`` / ``evaluate`` / ``predict``, callbacks, metrics, history, checkpoints.

Import it explicitly::

    from dlx.train import EarlyStopping, fit

    history = fit(model, loss_fn, optimizer, (x, y), epochs=10, validation_split=0.2,
                  callbacks=[EarlyStopping(patience=3, restore_best_weights=True)])
"""

from __future__ import annotations

from dlx.train.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LRSchedulerCallback,
    ModelCheckpoint,
    TrainState,
)
from dlx.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from dlx.train.history import History
from dlx.train.loop import evaluate, fit, predict
from dlx.train.metrics import accuracy, confusion_matrix, get_metric, register_metric
from dlx.train.tensorboard import TensorBoardLogger

__all__ = [
    "CSVLogger",
    "Callback",
    "CheckpointError",
    "EarlyStopping",
    "History",
    "LRSchedulerCallback",
    "ModelCheckpoint",
    "TensorBoardLogger",
    "TrainState",
    "accuracy",
    "confusion_matrix",
    "evaluate",
    "fit",
    "get_metric",
    "load_checkpoint",
    "predict",
    "register_metric",
    "save_checkpoint",
]
