"""Grad mode: whether ops record the autograd graph (per thread, like PyTorch).

The flag itself lives in the compiled core (a C thread-local, read on every op call);
these are its context managers and decorators. Each one is re-entrant (a decorated
function may recurse, one instance may be entered twice) and, as in PyTorch, ``no_grad``,
``enable_grad`` and ``inference_mode`` also decorate without parentheses.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from dlx._autograd import _set_grad_enabled, is_grad_enabled

__all__ = ["enable_grad", "inference_mode", "is_grad_enabled", "no_grad", "set_grad_enabled"]


class _GradMode(contextlib.ContextDecorator):
    """Sets grad mode to ``_mode`` (None: leaves it) on entry and restores it on exit."""

    _mode: bool | None = None

    def __init__(self) -> None:
        self._prev: list[bool] = []

    def __enter__(self) -> None:
        if self._mode is None:
            self._prev.append(is_grad_enabled())
        else:
            self._prev.append(_set_grad_enabled(self._mode))

    def __exit__(self, *exc: object) -> None:
        _set_grad_enabled(self._prev.pop())

    def _recreate_cm(self) -> _GradMode:
        """A fresh context per call of a decorated function (re-entrant, thread-safe)."""
        cm = _GradMode()
        cm._mode = self._mode
        return cm


def _bare(cls: type, func: Any) -> Any:
    if not callable(func):
        msg = f"{cls.__name__}: expected no argument or a function to decorate, got {func!r}"
        raise TypeError(msg)
    return cls()(func)


class _Switch(_GradMode):
    """A manager without arguments that also decorates without parentheses."""

    def __new__(cls, orig_func: Callable[..., Any] | None = None) -> Any:
        if orig_func is None:
            return super().__new__(cls)
        return _bare(cls, orig_func)

    def __init__(self, orig_func: Callable[..., Any] | None = None) -> None:
        super().__init__()


class no_grad(_Switch):
    """Context manager (or decorator, with or without parentheses) under which ops record
    no graph.

    Results of ops inside it have ``requires_grad=False``; in-place updates of leaf
    tensors that require grad (an optimiser step, weight init) are allowed.
    """

    _mode = False


class enable_grad(_Switch):
    """Context manager (or decorator) that turns graph recording back on inside no_grad."""

    _mode = True


class inference_mode(_GradMode):
    """PyTorch's ``inference_mode``: in dlx the same as :class:`no_grad` (``mode=False``
    leaves grad mode as it is); also a decorator, with or without parentheses."""

    def __new__(cls, mode: Any = True) -> Any:
        if callable(mode):
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True) -> None:
        super().__init__()
        self._mode = False if mode else None


class set_grad_enabled(_GradMode):
    """Turn graph recording on or off: at once when called (``dlx.set_grad_enabled(False)``),
    for a block (``with``) or for a function (as a decorator; the call itself then has no
    lasting effect, as in PyTorch).

    Parameters
    ----------
    mode : bool
        True to record ops for backward, False to run them without a graph.
    """

    def __init__(self, mode: bool) -> None:
        super().__init__()
        self._mode = bool(mode)
        self._before: bool | None = _set_grad_enabled(self._mode)

    def __enter__(self) -> None:
        if self._before is not None:  # the mode was set by __init__: restore what it replaced
            self._prev.append(self._before)
            self._before = None
        else:
            super().__enter__()

    def __call__(self, func: Any) -> Any:
        if self._before is not None:
            _set_grad_enabled(self._before)
            self._before = None
        return super().__call__(func)
