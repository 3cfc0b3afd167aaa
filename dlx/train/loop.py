"""``fit``, ``evaluate`` and ``predict``: the training loop over dlx modules."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from dlx._grad_mode import no_grad
from dlx.data import DataLoader, Dataset, TensorDataset, random_split, train_val_split
from dlx.tensor import Tensor
from dlx.train._distributed import context
from dlx.train.callbacks import Callback, TrainState, step_scheduler
from dlx.train.history import History
from dlx.train.metrics import Metric, get_metric
from dlx.train.progress import Progress


def fit(
    model: Any,
    loss_fn: Any,
    optimizer: Any,
    train_data: Any,
    epochs: int = 1,
    batch_size: int | None = 32,
    validation_data: Any = None,
    validation_split: float | None = None,
    metrics: Sequence[Any] = ("accuracy",),
    callbacks: Sequence[Callback] = (),
    scheduler: Any = None,
    verbose: int = 1,
    seed: int = 0,
    shuffle: bool = True,
    resume_from: str | os.PathLike[str] | None = None,
    distributed: bool | None = None,
    clip_grad_norm: float | None = None,
    clip_grad_value: float | None = None,
) -> History:
    """Train ``model`` with mini-batch gradient descent and return its :class:`History`.

    Parameters
    ----------
    model : dlx.nn.Module
        The model; ``model(x)`` gives outputs for a batch of inputs.
    loss_fn : callable
        ``loss_fn(outputs, targets)`` -> scalar Tensor (e.g. ``dlx.nn.CrossEntropyLoss()``);
        targets arrive as a Tensor.
    optimizer : dlx.optim.Optimizer
        Built over ``model.parameters()``. L-BFGS gets a closure.
    train_data : (x, y) arrays, Dataset or DataLoader
        Arrays and datasets are batched by a DataLoader with ``batch_size``; a DataLoader
        is used as is (its own batch size and shuffling). Batches are ``(inputs, targets)``.
    epochs : int
        Total number of epochs (when resuming, the epochs already done count).
    batch_size : int or None
        Samples per step: 1 is per-sample (stochastic) descent, None (or ``len(x)``) is
        full-batch descent.
    validation_data : (x, y) arrays, Dataset or DataLoader, optional
        Evaluated after every epoch; adds ``val_loss`` and ``val_<metric>`` to the logs.
    validation_split : float, optional
        Hold out this fraction of ``train_data`` (shuffled with ``seed``) instead.
    metrics : sequence of str or callable
        Metric names (see :func:`dlx.train.metrics.get_metric`) or ``fn(outputs, targets)``.
    callbacks : sequence of Callback
        Hooks called around epochs and batches.
    scheduler : LRScheduler, optional
        Stepped once per epoch (ReduceLROnPlateau with ``val_loss``, else ``loss``).
    verbose : int
        0 silent; 1 a progress bar per epoch (tqdm if installed) on stderr.
    seed : int
        Seed of the shuffling and of ``validation_split``. The weights' initialisation
        and dropout use dlx's default generator (``dlx.manual_seed``).
    shuffle : bool
        Shuffle the training samples every epoch (arrays and datasets only).
    resume_from : path, optional
        A training checkpoint (``ModelCheckpoint(..., training_state=True)`` or
        :func:`dlx.train.save_checkpoint`): restores model, optimiser, scheduler,
        RNG states, history and callback state, then continues at its next epoch. With the
        same seed and thread count the result is identical to an uninterrupted run.
        Distributed runs resume with the same number of ranks.
    distributed : bool, optional
        Data-parallel training over the ranks of an MPI job (``mpirun -n N``; see
        :mod:`dlx.distributed`): each rank trains on its shard of every epoch with
        ``batch_size`` samples per step, gradients are averaged across ranks after each
        backward, logs are averaged over all ranks, BatchNorm running statistics are
        averaged at each epoch end, and only rank 0 shows progress and writes checkpoints.
        None (default) turns it on when :func:`dlx.distributed.init` has run in a job of
        more than one process.
    clip_grad_norm : float, optional
        After every backward (and the distributed gradient average), scale the gradients
        so that their joint L2 norm is at most this (:func:`dlx.nn.utils.clip_grad_norm_`);
        the usual guard for recurrent nets. The epoch logs gain ``grad_norm``, the mean
        norm before clipping.
    clip_grad_value : float, optional
        Clip every gradient entry to ``[-clip_grad_value, clip_grad_value]``
        (:func:`dlx.nn.utils.clip_grad_value_`); applied before ``clip_grad_norm`` when
        both are given.

    Returns
    -------
    History
        Per-epoch logs; ``history.interrupted`` is True after Ctrl-C (training stops
        cleanly after the current batch; checkpoints already written are kept).
    """
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 0:
        msg = f"fit: `epochs` must be a non-negative int, got {epochs!r}"
        raise ValueError(msg)
    if validation_data is not None and validation_split is not None:
        msg = "fit: give `validation_data` or `validation_split`, not both"
        raise ValueError(msg)
    max_norm = _clip_arg(clip_grad_norm, "clip_grad_norm", positive=True)
    max_value = _clip_arg(clip_grad_value, "clip_grad_value", positive=False)
    clip = None if max_norm is None and max_value is None else _Clip(max_norm, max_value)
    train_data, validation_data = _split(train_data, validation_data, validation_split, seed)
    loader = _loader(train_data, batch_size, shuffle, seed, "train_data")
    if len(loader) == 0:
        msg = "fit: `train_data` holds no samples (or its DataLoader yields no batch)"
        raise ValueError(msg)
    dist = context(distributed, model, optimizer)  # never imports MPI unless distributed
    if dist is not None:
        loader = dist.shard(loader)
        verbose = verbose if dist.main else 0
    named = [get_metric(m) for m in (metrics or ())]
    history = History()
    state = TrainState(model, optimizer, scheduler, history)
    state.loader = loader
    state.verbose = verbose
    state.callbacks = list(callbacks)
    start = 0
    if resume_from is not None:
        from dlx.train.checkpoint import load_training_state

        start = load_training_state(resume_from, state)
    for cb in state.callbacks:
        cb.set_state(state)
    _call(state, "on_train_begin", {})
    logs: dict[str, float] = {}
    with _interrupt_flag() as interrupted:
        try:
            for epoch in range(start, epochs):
                state.epoch = epoch
                loader.set_epoch(epoch)
                _call(state, "on_epoch_begin", epoch, {})
                lr = float(optimizer.param_groups[0]["lr"])
                bar = Progress(len(loader), f"epoch {epoch + 1}/{epochs}", verbose)
                try:
                    logs = _train_epoch(state, loader, loss_fn, named, bar, interrupted, dist, clip)
                    if dist is not None:
                        dist.end_epoch()
                    if validation_data is not None:
                        vb = batch_size or 256
                        val = (
                            dist.evaluate(loss_fn, validation_data, vb, metrics)
                            if dist is not None
                            else evaluate(model, loss_fn, validation_data, vb, metrics)
                        )
                        logs.update({f"val_{k}": v for k, v in val.items()})
                finally:
                    bar.close(" ".join(f"{k} {v:.4f}" for k, v in logs.items()))
                logs["lr"] = lr
                if scheduler is not None:
                    step_scheduler(scheduler, logs)
                history.append(epoch, logs)
                _call(state, "on_epoch_end", epoch, logs)
                if state.stop_training:
                    history.stopped_early = True
                    break
                if interrupted[0]:  # Ctrl-C during validation or callbacks
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            history.interrupted = True
    _call(state, "on_train_end", logs)
    return history


def evaluate(
    model: Any,
    loss_fn: Any,
    data: Any,
    batch_size: int | None = 256,
    metrics: Sequence[Any] = ("accuracy",),
) -> dict[str, float]:
    """Mean loss and metrics of ``model`` on ``data`` (eval mode, no gradients).

    ``data`` is ``(x, y)`` arrays, a Dataset or a DataLoader; ``loss_fn`` may be None
    (metrics only). Returns ``{"loss": ..., "<metric>": ...}``.
    """
    named = [get_metric(m) for m in (metrics or ())]
    loader = _loader(data, batch_size, False, 0, "data")
    if len(loader) == 0:
        msg = "evaluate: `data` holds no samples: there is no mean loss to report"
        raise ValueError(msg)
    totals: dict[str, float] = {}
    n = 0
    with _eval_mode(model), no_grad():
        for xb, yb in _pairs(loader):
            out = model(_as_input(xb, model))
            size = len(xb)
            if loss_fn is not None:
                loss = float(loss_fn(out, _as_input(yb, model)).item())
                totals["loss"] = totals.get("loss", 0.0) + loss * size
            out_np = np.asarray(out.numpy() if isinstance(out, Tensor) else out)
            for name, fn in named:
                totals[name] = totals.get(name, 0.0) + float(fn(out_np, np.asarray(yb))) * size
            n += size
    return {k: v / max(n, 1) for k, v in totals.items()}


def predict(model: Any, x: Any, batch_size: int | None = 256) -> np.ndarray:
    """Outputs of ``model`` for inputs ``x`` (array or Tensor), in eval mode without grads.

    ``batch_size`` is a positive int (samples per forward pass) or None (all at once).
    With no samples the model still runs once, on the empty batch, so the result has the
    output's shape with 0 rows, e.g. ``(0, classes)``.
    """
    arr = x.numpy() if isinstance(x, Tensor) else np.asarray(x)
    if arr.ndim == 0:
        msg = f"predict: `x` must hold samples along its first axis, got a 0-d {type(x).__name__}"
        raise ValueError(msg)
    if batch_size is not None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
            msg = f"predict: `batch_size` must be a positive int or None, got {batch_size!r}"
            raise TypeError(msg)
        if batch_size < 1:
            msg = f"predict: `batch_size` must be a positive int or None, got {batch_size}"
            raise ValueError(msg)
    size = max(len(arr), 1) if batch_size is None else int(batch_size)
    outs = []
    with _eval_mode(model), no_grad():
        for i in range(0, max(len(arr), 1), size):
            out = model(_as_input(arr[i : i + size], model))
            outs.append(np.asarray(out.numpy() if isinstance(out, Tensor) else out))
    return np.concatenate(outs, axis=0)


# -- internals ------------------------------------------------------------------------------
def _train_epoch(
    state: TrainState,
    loader: DataLoader,
    loss_fn: Any,
    named: list[tuple[str, Metric]],
    bar: Progress,
    interrupted: list[bool],
    dist: Any = None,
    clip: _Clip | None = None,
) -> dict[str, float]:
    model, optimizer = state.model, state.optimizer
    needs_closure = getattr(optimizer, "needs_closure", False)
    model.train()
    totals = dict.fromkeys(["loss"] + [name for name, _ in named], 0.0)
    norms: list[float] = []  # gradient norms before clipping, one per backward
    n = 0
    logs: dict[str, float] = {}
    try:
        for batch_idx, (xb, yb) in enumerate(_pairs(loader)):
            _call(state, "on_batch_begin", batch_idx, {})
            x, y = _as_input(xb, model), _as_input(yb, model)
            outputs: list[Any] = []

            def closure(x: Tensor = x, y: Tensor = y, outputs: list[Any] = outputs) -> Tensor:
                optimizer.zero_grad()
                out = model(x)
                loss = loss_fn(out, y)
                loss.backward()
                if dist is not None:
                    dist.sync_gradients()
                if clip is not None:
                    clip.apply(model, norms)
                outputs.append((out, loss))
                return loss

            if needs_closure:
                optimizer.step(closure)
            else:
                closure()
                optimizer.step()
            out, loss = outputs[0]
            state.step += 1
            size = len(xb)
            n += size
            loss_val = float(loss.item())
            totals["loss"] += loss_val * size
            if named:
                out_np, y_np = out.numpy(), np.asarray(yb)
                for name, fn in named:
                    totals[name] += float(fn(out_np, y_np)) * size
            bar.update(size, totals["loss"] / n)
            _call(state, "on_batch_end", batch_idx, {"loss": loss_val, "size": size})
            if interrupted[0]:
                raise KeyboardInterrupt
        if dist is not None:  # only after a complete epoch: every rank takes part
            totals, n = dist.reduce_totals(totals, n)
    finally:
        logs.update({k: v / max(n, 1) for k, v in totals.items()})
        if norms:
            logs["grad_norm"] = float(np.mean(norms))
    return logs


class _Clip:
    """fit's gradient clipping: by value, then by joint L2 norm (either may be off)."""

    def __init__(self, max_norm: float | None, max_value: float | None) -> None:
        from dlx.nn.utils import clip_grad_norm_, clip_grad_value_

        self.max_norm, self.max_value = max_norm, max_value
        self._by_norm, self._by_value = clip_grad_norm_, clip_grad_value_

    def apply(self, model: Any, norms: list[float]) -> None:
        if self.max_value is not None:
            self._by_value(model.parameters(), self.max_value)
        if self.max_norm is not None:
            norms.append(float(self._by_norm(model.parameters(), self.max_norm).item()))


def _clip_arg(value: Any, name: str, positive: bool) -> float | None:
    """A clipping bound: None, or a finite real number > 0 (``positive``) or >= 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        msg = f"fit: `{name}` must be a number or None, got {type(value).__name__} {value!r}"
        raise TypeError(msg)
    v = float(value)
    if not np.isfinite(v) or v < 0 or (positive and v == 0):
        rule = "a finite number > 0" if positive else "a finite number >= 0"
        msg = f"fit: `{name}` must be {rule}, got {value!r}"
        raise ValueError(msg)
    return v


def _call(state: TrainState, hook: str, *args: Any) -> None:
    for cb in state.callbacks:
        getattr(cb, hook)(*args)


def _pairs(loader: DataLoader) -> Iterator[tuple[Any, Any]]:
    for batch in loader:
        if not isinstance(batch, tuple | list) or len(batch) < 2:
            msg = "fit: batches must be (inputs, targets) pairs"
            raise ValueError(msg)
        yield batch[0], batch[1]


def _as_input(xb: Any, model: Any) -> Tensor:
    """A batch as a Tensor; float arrays are cast to the model's parameter dtype."""
    arr = xb.numpy() if isinstance(xb, Tensor) else np.asarray(xb)
    param = next(iter(model.parameters()), None) if hasattr(model, "parameters") else None
    if param is not None and arr.dtype.kind == "f" and arr.dtype != param.dtype:
        arr = arr.astype(param.dtype)
    return Tensor(arr)


def _split(train: Any, val: Any, fraction: float | None, seed: int) -> tuple[Any, Any]:
    if fraction is None:
        return train, val
    if isinstance(train, DataLoader):
        msg = "fit: `validation_split` needs arrays or a Dataset, not a DataLoader"
        raise TypeError(msg)
    if isinstance(train, tuple | list) and len(train) == 2:
        return train_val_split(train[0], train[1], val_fraction=fraction, seed=seed)
    parts = random_split(train, [1.0 - fraction, fraction], seed=seed)
    return parts[0], parts[1]


def _loader(data: Any, batch_size: int | None, shuffle: bool, seed: int, arg: str) -> DataLoader:
    if isinstance(data, DataLoader):
        return data
    if isinstance(data, tuple | list) and len(data) == 2:
        dataset: Any = TensorDataset(np.asarray(data[0]), np.asarray(data[1]))
    elif isinstance(data, Dataset) or (hasattr(data, "__len__") and hasattr(data, "__getitem__")):
        dataset = data
    else:
        msg = f"`{arg}` must be (x, y) arrays, a Dataset or a DataLoader, got {type(data).__name__}"
        raise TypeError(msg)
    if batch_size is not None and batch_size >= len(dataset):
        batch_size = None  # full batch
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=seed)


@contextlib.contextmanager
def _eval_mode(model: Any) -> Iterator[None]:
    was = getattr(model, "training", False)
    model.eval()
    try:
        yield
    finally:
        model.train(was)


@contextlib.contextmanager
def _interrupt_flag() -> Iterator[list[bool]]:
    """Turn the first Ctrl-C into a flag checked after each batch (a second one aborts)."""
    flag = [False]
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum: int, frame: Any) -> None:
        flag[0] = True
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)
