"""``History``: what ``fit`` returns (per-epoch losses and metrics, Keras-style)."""

from __future__ import annotations

from typing import Any


class History:
    """Per-epoch training and validation results.

    Attributes
    ----------
    history : dict of str to list of float
        ``{"loss": [...], "accuracy": [...], "val_loss": [...], "val_accuracy": [...],
        "lr": [...]}``, one value per completed epoch (Keras layout).
    epoch : list of int
        The epoch indices that completed.
    interrupted : bool
        True when training stopped early because of ``KeyboardInterrupt`` (Ctrl-C).
    stopped_early : bool
        True when a callback (e.g. EarlyStopping) ended training.
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.interrupted = False
        self.stopped_early = False

    def append(self, epoch: int, logs: dict[str, float]) -> None:
        """Record the logs of a finished epoch."""
        self.epoch.append(int(epoch))
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __len__(self) -> int:
        return len(self.epoch)

    def state_dict(self) -> dict[str, Any]:
        """JSON-serialisable contents (for checkpoints)."""
        return {"history": self.history, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output."""
        self.history = {str(k): [float(x) for x in v] for k, v in state["history"].items()}
        self.epoch = [int(e) for e in state["epoch"]]

    def plot(self, keys: list[str] | None = None, ax: Any = None) -> Any:
        """Draw learning curves with matplotlib (losses on one axes, metrics on another).

        Parameters
        ----------
        keys : list of str, optional
            Which series to draw (default: all but ``lr``).
        ax : matplotlib Axes, optional
            Draw on this axes instead of a new figure.

        Returns
        -------
        matplotlib Axes (or array of them)
        """
        try:
            import matplotlib.pyplot as plt  # type: ignore[import-not-found,import-untyped,unused-ignore]
        except ImportError:
            msg = "History.plot needs matplotlib, which is not installed: pip install matplotlib"
            raise ImportError(msg) from None
        keys = [k for k in self.history if k != "lr"] if keys is None else list(keys)
        missing = [k for k in keys if k not in self.history]
        if missing:
            msg = f"History.plot: no series {missing}; recorded: {sorted(self.history)}"
            raise KeyError(msg)
        losses = [k for k in keys if k.endswith("loss")]
        others = [k for k in keys if not k.endswith("loss")]
        axes: list[Any]
        if ax is None:
            ncols = 2 if losses and others else 1
            _, grid = plt.subplots(
                1, ncols, figsize=(5.5 * ncols, 4), squeeze=False, layout="constrained"
            )
            axes = list(grid[0])
        else:
            axes = [ax, ax]
        epochs = [e + 1 for e in self.epoch]
        panels = ((axes[0], losses, "loss"), (axes[-1], others, _metric_label(others)))
        for a, group, label in panels:
            for k in group:
                val = k.startswith("val_")  # validation dashed with squares, training solid
                a.plot(
                    epochs,
                    self.history[k],
                    marker="s" if val else "o",
                    markersize=4,
                    linestyle="--" if val else "-",
                    label=k,
                )
            if group:
                a.set_xlabel("epoch")
                a.set_ylabel(label)
                a.set_title(f"{label.split(' (')[0].capitalize()} per epoch")
                a.xaxis.get_major_locator().set_params(integer=True)
                a.legend()
        return axes[0] if len(axes) == 1 or ax is not None else axes

    def __repr__(self) -> str:
        last = {k: round(v[-1], 4) for k, v in self.history.items() if v}
        flag = ", interrupted" if self.interrupted else ""
        return f"History(epochs={len(self.epoch)}{flag}, last={last})"


def _metric_label(keys: list[str]) -> str:
    """The y-axis label for metric series: accuracy-like ones are fractions."""
    if keys and all("acc" in k for k in keys):
        return "accuracy (fraction correct)"
    return "metric value"
