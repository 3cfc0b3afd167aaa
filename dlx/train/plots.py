"""Figures of a classifier's test results: confusion matrix and misclassified samples.

Used by ``dlx evaluate --plot PATH`` and the digits CNN example; needs matplotlib::

    from dlx.train.plots import save_evaluation_figure

    pred = predict(model, x_test).argmax(axis=1)
    save_evaluation_figure("eval.png", x_test, y_test, pred, title="digits CNN")

The figures are built on ``matplotlib.figure.Figure`` (no pyplot, no GUI backend), so
they work in scripts, servers and tests alike.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from dlx.train.metrics import confusion_matrix


def require_matplotlib() -> None:
    """Raise the ImportError naming the fix when matplotlib is missing."""
    _matplotlib()


def _matplotlib() -> Any:
    try:
        import matplotlib  # type: ignore[import-not-found,import-untyped,unused-ignore]
        from matplotlib.figure import (  # type: ignore[import-not-found,import-untyped,unused-ignore]
            Figure,
        )
    except ImportError:
        msg = "plotting needs matplotlib, which is not installed: pip install matplotlib"
        raise ImportError(msg) from None
    return matplotlib, Figure


def plot_confusion_matrix(cm: Any, ax: Any, class_names: Sequence[str] | None = None) -> Any:
    """Draw confusion-matrix counts on ``ax`` (rows true, columns predicted); returns ``ax``."""
    cm = np.asarray(cm)
    n = cm.shape[0]
    image = ax.imshow(cm, cmap="Blues", interpolation="nearest")
    cbar = ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    cbar.set_label("test samples")
    labels = list(class_names) if class_names is not None else [str(i) for i in range(n)]
    ax.set_xticks(range(n), labels, rotation=45 if class_names is not None else 0, ha="right")
    ax.set_yticks(range(n), labels)
    if class_names is None:
        ax.tick_params(axis="x", labelrotation=0)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    correct, total = int(np.trace(cm)), int(cm.sum())
    share = 100 * correct / max(total, 1)
    ax.set_title(f"Confusion matrix: {correct} of {total} correct ({share:.1f}%)")
    if n <= 15:  # counts are readable up to about 15 classes
        cut = cm.max() / 2 if cm.size else 0
        for i in range(n):
            for j in range(n):
                if cm[i, j]:
                    color = "white" if cm[i, j] > cut else "black"
                    ax.text(j, i, str(cm[i, j]), ha="center", va="center", color=color, size=8)
    return ax


def _as_image(sample: np.ndarray) -> np.ndarray | None:
    """A sample as an (H, W) or (H, W, 3) array scaled to [0, 1], or None if not an image."""
    a = np.asarray(sample, dtype=np.float64)
    if a.ndim == 3 and a.shape[0] in (1, 3):
        a = a[0] if a.shape[0] == 1 else np.transpose(a, (1, 2, 0))
    elif a.ndim == 1 and int(np.sqrt(a.size)) ** 2 == a.size:
        side = int(np.sqrt(a.size))
        a = a.reshape(side, side)
    elif a.ndim != 2:
        return None
    low, high = float(a.min()), float(a.max())
    return (a - low) / (high - low) if high > low else np.zeros_like(a)


def plot_misclassified(
    fig: Any,
    spec: Any,
    x: Any,
    targets: Any,
    predictions: Any,
    class_names: Sequence[str] | None = None,
    max_samples: int = 16,
) -> int:
    """Draw up to ``max_samples`` misclassified images in a grid inside ``spec`` (a
    SubplotSpec of ``fig``), each titled true -> predicted. Returns how many were wrong."""
    t, p = np.asarray(targets).reshape(-1), np.asarray(predictions).reshape(-1)
    wrong = np.flatnonzero(t != p)
    images = [(int(i), _as_image(np.asarray(x[i]))) for i in wrong[:max_samples]]
    shown = [(i, img) for i, img in images if img is not None]
    cols = 4
    rows = max(1, -(-max_samples // cols))  # a fixed grid: few mistakes stay at the top
    grid = spec.subgridspec(rows + 1, cols, height_ratios=[0.25] + [1] * rows)
    head = fig.add_subplot(grid[0, :])
    head.axis("off")
    what = f"Misclassified test samples: {len(wrong) or 'none'} of {len(t)}"
    if len(wrong) and not shown:
        what += " (the inputs are not images)"
    elif len(wrong) > len(shown):
        what += f" (first {len(shown)} shown)"
    head.text(0.5, 0.2, what, ha="center", va="bottom", size=12)
    names = list(class_names) if class_names is not None else None
    for k, (i, img) in enumerate(shown):
        ax = fig.add_subplot(grid[1 + k // cols, k % cols])
        ax.imshow(img, cmap="gray_r" if img.ndim == 2 else None, interpolation="nearest")
        true, pred = int(t[i]), int(p[i])
        if names is not None:
            label = f"true {names[true]}\npred {names[pred]}"
        else:
            label = f"true {true}, pred {pred}"
        ax.set_title(label, size=8)
        ax.set_xticks([])
        ax.set_yticks([])
    return len(wrong)


def evaluation_figure(
    x: Any,
    targets: Any,
    predictions: Any,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
    num_classes: int | None = None,
) -> Any:
    """A matplotlib Figure: the confusion matrix (left) and misclassified samples (right)."""
    _, Figure = _matplotlib()
    if num_classes is None and class_names is not None:
        num_classes = len(class_names)
    cm = confusion_matrix(targets, predictions, num_classes)
    fig = Figure(figsize=(13, 6), layout="constrained")
    outer = fig.add_gridspec(1, 2, width_ratios=[1.15, 1])
    plot_confusion_matrix(cm, fig.add_subplot(outer[0, 0]), class_names)
    plot_misclassified(fig, outer[0, 1], x, targets, predictions, class_names)
    if title:
        fig.suptitle(title, size=14)
    return fig


def save_evaluation_figure(
    path: str | os.PathLike[str],
    x: Any,
    targets: Any,
    predictions: Any,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
) -> None:
    """Write :func:`evaluation_figure` to ``path`` (PNG unless the extension says else)."""
    fig = evaluation_figure(x, targets, predictions, class_names, title)
    fig.savefig(path, dpi=100)
