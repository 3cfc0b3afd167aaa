"""Shared bits of the example scripts: the common command-line flags and plotting helpers."""

from __future__ import annotations

import argparse
import os
import sys


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line: ``script.py: error: ... (see --help)``."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def fail(message: str) -> None:
    """End the script with a one-line error on stderr (exit status 2), never a traceback."""
    print(f"{os.path.basename(sys.argv[0])}: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            msg = f"must be an int >= {low}, got {text!r}"
            raise argparse.ArgumentTypeError(msg)
        return value

    return parse


positive_int = _int_at_least(1)


def parser(description: str, epochs: int, data: bool = False) -> argparse.ArgumentParser:
    """An ArgumentParser with the flags every example understands."""
    p = _Parser(description=description)
    p.add_argument(
        "--epochs",
        type=_int_at_least(min(epochs, 1)),
        default=epochs,
        help=f"training epochs (default {epochs})",
    )
    p.add_argument("--quick", action="store_true", help="tiny fast smoke run (for the tests)")
    p.add_argument("--seed", type=_int_at_least(0), default=0, help="random seed (default 0)")
    p.add_argument("--out", default=None, help="directory for plots (default: current)")
    if data:
        p.add_argument("--data", required=True, help="directory holding the dataset files")
    return p


def load(loader, *args, **kwargs):
    """``loader(*args, **kwargs)``; a missing or damaged data file ends the script with one
    line naming it (dlx's loaders say which file is missing and where to get it)."""
    try:
        return loader(*args, **kwargs)
    except (OSError, ValueError) as exc:
        fail(str(exc))


def pyplot():
    """matplotlib.pyplot with a non-interactive backend, or None when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


# Curve styles that stay apart where curves overlap: colour, dash pattern and marker differ.
STYLES = [
    {"color": "C0", "linestyle": "-", "marker": "o"},
    {"color": "C1", "linestyle": "--", "marker": "s"},
    {"color": "C2", "linestyle": "-.", "marker": "^"},
    {"color": "C3", "linestyle": ":", "marker": "D"},
    {"color": "C4", "linestyle": "-", "marker": "v"},
    {"color": "C5", "linestyle": "--", "marker": "P"},
    {"color": "C6", "linestyle": "-.", "marker": "X"},
    {"color": "C9", "linestyle": ":", "marker": "*"},
]


def style(i: int, points: int = 0) -> dict:
    """Keyword arguments for ``ax.plot`` of the i-th curve (about 15 markers per curve)."""
    return {**STYLES[i % len(STYLES)], "markevery": max(1, points // 15), "markersize": 4}


def plain_log_axis(ax, axis: str = "y") -> None:
    """Log scale with tick labels as plain numbers (0.05, 0.1, 2) instead of 2x10^0; call it
    after plotting. Ticks at 1, 2 and 5 per decade over up to two decades, else 1 only."""
    import math

    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    which = ax.yaxis if axis == "y" else ax.xaxis
    (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    low, high = ax.get_ylim() if axis == "y" else ax.get_xlim()
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    which.set_major_formatter(plain)
    if math.log10(high / low) <= 2.2:
        which.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
        which.set_minor_formatter(plain)
    else:
        which.set_minor_formatter(NullFormatter())


def save(plt, fig, out: str | None, name: str) -> str:
    """Write ``fig`` as ``out/name`` (PNG), close it and say where it went."""
    path = out_path(out, name)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"plot saved to {path}")
    return path


def out_path(out: str | None, name: str) -> str:
    """``out/name`` (creating ``out``), or ``name`` in the current directory."""
    if out is None:
        return name
    os.makedirs(out, exist_ok=True)
    return os.path.join(out, name)


def load_mnist_split(args, quick_n: int = 64):
    """MNIST train/test arrays from ``args.data`` (``--limit`` / ``--quick`` subsample them)."""
    from dlx.data import load_mnist

    x, y = load(load_mnist, args.data, "train")
    x_te, y_te = load(load_mnist, args.data, "test")
    n = quick_n if args.quick else getattr(args, "limit", None)
    if n:
        x, y, x_te, y_te = x[:n], y[:n], x_te[:n], y_te[:n]
    return (x, y), (x_te, y_te)


def add_limit(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--limit", type=int, default=None, help="use only the first N images")
    return p
