"""Shared bits of the example scripts: the common command-line flags and plotting helpers."""

from __future__ import annotations

import argparse
import os


def parser(description: str, epochs: int, data: bool = False) -> argparse.ArgumentParser:
    """An ArgumentParser with the flags every example understands."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--epochs", type=int, default=epochs, help=f"training epochs (default {epochs})")
    p.add_argument("--quick", action="store_true", help="tiny fast smoke run (for the tests)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--out", default=None, help="directory for plots (default: current)")
    if data:
        p.add_argument("--data", required=True, help="directory holding the dataset files")
    return p


def pyplot():
    """matplotlib.pyplot with a non-interactive backend, or None when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def out_path(out: str | None, name: str) -> str:
    """``out/name`` (creating ``out``), or ``name`` in the current directory."""
    if out is None:
        return name
    os.makedirs(out, exist_ok=True)
    return os.path.join(out, name)


def load_mnist_split(args, quick_n: int = 64):
    """MNIST train/test arrays from ``args.data`` (``--limit`` / ``--quick`` subsample them)."""
    from dlx.data import load_mnist

    x, y = load_mnist(args.data, "train")
    x_te, y_te = load_mnist(args.data, "test")
    n = quick_n if args.quick else getattr(args, "limit", None)
    if n:
        x, y, x_te, y_te = x[:n], y[:n], x_te[:n], y_te[:n]
    return (x, y), (x_te, y_te)


def add_limit(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--limit", type=int, default=None, help="use only the first N images")
    return p
