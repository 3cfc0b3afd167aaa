"""Argument parsing for the ``dlx`` command line: one-line errors, defaults in --help."""

from __future__ import annotations

import argparse
import math
import os
import tempfile
from collections.abc import Callable
from typing import NoReturn


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Appends ``(default: X)`` to every option that takes a value and has a default."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (
            "default" in text
            or not action.option_strings
            or action.nargs == 0  # flags: off unless given
            or action.default in (None, argparse.SUPPRESS)
        ):
            return text
        return f"{text} (default: %(default)s)"


class CLIParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``prog: error: message (see --help)``."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def int_range(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: an int in ``[low, high]`` (no upper end when ``high`` is None)."""
    rule = f"an int from {low} to {high}" if high is not None else f"an int >= {low}"
    if high is None and low == 1:
        rule = "a positive int"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low or (high is not None and value > high):
            msg = f"must be {rule}, got {text!r}"
            raise argparse.ArgumentTypeError(msg)
        return value

    parse.__name__ = "int"  # argparse names the type in some messages
    return parse


positive_int = int_range(1)
seed_int = int_range(0)


def positive_float(text: str) -> float:
    """An argparse type: a finite float > 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        msg = f"must be a finite number > 0, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def fraction(text: str) -> float:
    """An argparse type: a float strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 < value < 1.0:
        msg = f"must be a number between 0 and 1 (exclusive), got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def check_writable(path: str, option: str, overwrite: bool = True) -> None:
    """Raise ValueError unless ``path`` can be written (its directory exists and accepts a
    new file; an existing file is refused unless ``overwrite``). Checked before any work."""
    if os.path.isdir(path):
        msg = f"`{option}` {path!r} is a directory; give a file name"
        raise ValueError(msg)
    if os.path.lexists(path) and not overwrite:
        msg = (
            f"`{option}` {path!r} already exists; pass --overwrite to replace it or choose "
            f"another {option}"
        )
        raise ValueError(msg)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        msg = f"the directory of `{option}` {path!r} does not exist: {folder}"
        raise ValueError(msg)
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".dlx-write-check-")
    except OSError as exc:
        msg = f"cannot write `{option}` {path!r}: {folder} is not writable ({exc.strerror})"
        raise ValueError(msg) from None
    os.close(fd)
    os.unlink(probe)
