"""Grad mode: whether ops record the autograd graph (per thread, like PyTorch).

The flag itself lives in the compiled core (a C thread-local, read on every op call);
these are its context managers and decorators.
"""

from __future__ import annotations

import contextlib

from dlx._autograd import _set_grad_enabled, is_grad_enabled

__all__ = ["enable_grad", "inference_mode", "is_grad_enabled", "no_grad", "set_grad_enabled"]


class set_grad_enabled(contextlib.ContextDecorator):
    """Turn graph recording on or off; takes effect at once, restored on context exit.

    Parameters
    ----------
    mode : bool
        True to record ops for backward, False to run them without a graph.
    """

    def __init__(self, mode: bool) -> None:
        self.prev = _set_grad_enabled(bool(mode))
        self.mode = bool(mode)

    def __enter__(self) -> None:
        _set_grad_enabled(self.mode)

    def __exit__(self, *exc: object) -> None:
        _set_grad_enabled(self.prev)


class no_grad(contextlib.ContextDecorator):
    """Context manager (or decorator) under which ops record no graph.

    Results of ops inside it have ``requires_grad=False``; in-place updates of leaf
    tensors that require grad (an optimiser step, weight init) are allowed.
    """

    def __enter__(self) -> None:
        self.prev = _set_grad_enabled(False)

    def __exit__(self, *exc: object) -> None:
        _set_grad_enabled(self.prev)


class enable_grad(contextlib.ContextDecorator):
    """Context manager (or decorator) that turns graph recording back on inside no_grad."""

    def __enter__(self) -> None:
        self.prev = _set_grad_enabled(True)

    def __exit__(self, *exc: object) -> None:
        _set_grad_enabled(self.prev)


class inference_mode(contextlib.ContextDecorator):
    """PyTorch's ``inference_mode``: in dlx the same as :class:`no_grad` (``mode=False``
    leaves grad mode as it is)."""

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)

    def __enter__(self) -> None:
        self.prev = _set_grad_enabled(False) if self.mode else None

    def __exit__(self, *exc: object) -> None:
        if self.prev is not None:
            _set_grad_enabled(self.prev)
