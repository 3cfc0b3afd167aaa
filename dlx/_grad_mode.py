"""Grad mode: whether ops record the autograd graph (per thread, like PyTorch)."""

from __future__ import annotations

import contextlib
import threading


class _GradState(threading.local):
    enabled = True  # each thread starts with grad mode on


_state = _GradState()


def is_grad_enabled() -> bool:
    """Return True when ops record the graph for backward in this thread."""
    return _state.enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Turn graph recording on or off; takes effect at once, restored on context exit.

    Parameters
    ----------
    mode : bool
        True to record ops for backward, False to run them without a graph.
    """

    def __init__(self, mode: bool) -> None:
        self.prev = _state.enabled
        _state.enabled = bool(mode)

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        _state.enabled = self.prev


class no_grad(contextlib.ContextDecorator):
    """Context manager (or decorator) under which ops record no graph.

    Results of ops inside it have ``requires_grad=False``; in-place updates of leaf
    tensors that require grad (an optimiser step, weight init) are allowed.
    """

    def __enter__(self) -> None:
        self.prev = _state.enabled
        _state.enabled = False

    def __exit__(self, *exc: object) -> None:
        _state.enabled = self.prev


class enable_grad(contextlib.ContextDecorator):
    """Context manager (or decorator) that turns graph recording back on inside no_grad."""

    def __enter__(self) -> None:
        self.prev = _state.enabled
        _state.enabled = True

    def __exit__(self, *exc: object) -> None:
        _state.enabled = self.prev
