"""Training metrics by name: ``fit(..., metrics=["accuracy"])``.

A metric is ``fn(outputs, targets) -> float``, the mean over the batch, on NumPy arrays
(model outputs and targets). ``fit`` averages it over an epoch weighted by batch size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Metric = Callable[[np.ndarray, np.ndarray], float]


def accuracy(outputs: Any, targets: Any) -> float:
    """Fraction of correct predictions.

    Multi-class outputs ``(N, C)`` with ``C > 1``: the argmax is the prediction; targets
    are class indices ``(N,)`` or one-hot/probabilities ``(N, C)`` (argmax taken). A single
    output per sample (``(N,)`` or ``(N, 1)``) is a logit: the prediction is ``output > 0``,
    compared with ``target > 0.5``.
    """
    out = np.asarray(outputs)
    tgt = np.asarray(targets)
    n = out.shape[0] if out.ndim else 1
    if n == 0:
        return 0.0
    if out.ndim >= 2 and out.shape[-1] > 1:
        pred = out.reshape(n, -1).argmax(axis=1)
        if tgt.ndim >= 2 and tgt.shape[-1] == out.shape[-1] and tgt.size == out.size:
            tgt = tgt.reshape(n, -1).argmax(axis=1)
        return float(np.mean(pred == tgt.reshape(n)))
    pred = out.reshape(n) > 0
    return float(np.mean(pred == (tgt.reshape(n) > 0.5)))


_REGISTRY: dict[str, Metric] = {"accuracy": accuracy, "acc": accuracy}


def register_metric(name: str, fn: Metric) -> None:
    """Make ``fn(outputs, targets) -> float`` available as ``metrics=[name]``."""
    if not isinstance(name, str) or not name:
        msg = f"`name` must be a non-empty str, got {name!r}"
        raise TypeError(msg)
    if not callable(fn):
        msg = f"`fn` must be callable, got {type(fn).__name__}"
        raise TypeError(msg)
    _REGISTRY[name] = fn


def get_metric(metric: str | Metric) -> tuple[str, Metric]:
    """``(name, fn)`` for a registered name or a callable (named by its ``__name__``)."""
    if isinstance(metric, str):
        if metric not in _REGISTRY:
            msg = f"unknown metric {metric!r}; known metrics: {sorted(_REGISTRY)}"
            raise ValueError(msg)
        return ("accuracy" if metric == "acc" else metric), _REGISTRY[metric]
    if callable(metric):
        return getattr(metric, "__name__", type(metric).__name__), metric
    msg = f"a metric must be a name or a callable, got {type(metric).__name__}"
    raise TypeError(msg)


def confusion_matrix(targets: Any, predictions: Any, num_classes: int | None = None) -> np.ndarray:
    """Counts ``cm[i, j]`` of samples of true class ``i`` predicted as class ``j``.

    Parameters
    ----------
    targets, predictions : array-like of int, shape (N,)
        Class indices in ``[0, num_classes)``.
    num_classes : int, optional
        Number of classes (default: one more than the largest index seen).

    Returns
    -------
    ndarray of int64, shape (num_classes, num_classes)
        Rows are true classes, columns predicted classes (scikit-learn's layout).
    """
    t = np.asarray(targets).reshape(-1)
    p = np.asarray(predictions).reshape(-1)
    if t.shape != p.shape:
        msg = f"`targets` and `predictions` must have the same length, got {t.size} and {p.size}"
        raise ValueError(msg)
    for name, a in (("targets", t), ("predictions", p)):
        if a.size and (a.dtype.kind not in "iub" or a.min() < 0):
            msg = f"`{name}` must hold non-negative class indices, got dtype {a.dtype}"
            raise ValueError(msg)
    seen = int(max(t.max(initial=-1), p.max(initial=-1))) + 1
    n = seen if num_classes is None else int(num_classes)
    if n < seen:
        msg = f"`num_classes`={num_classes} is too small for class index {seen - 1}"
        raise ValueError(msg)
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (t.astype(np.int64), p.astype(np.int64)), 1)
    return cm
