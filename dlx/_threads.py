"""Thread control shared by the OpenMP kernels and the BLAS library."""

from __future__ import annotations

import operator

from dlx._native import _core


def set_num_threads(n: int) -> None:
    """Set the number of threads used by dlx's OpenMP kernels and its BLAS.

    Parameters
    ----------
    n : int
        A positive thread count. It applies process-wide. dlx never nests a
        multi-threaded BLAS call inside one of its own parallel loops.
    """
    if isinstance(n, bool):
        msg = f"`n` must be a positive int, got {n!r}"
        raise TypeError(msg)
    try:
        n = operator.index(n)
    except TypeError:
        msg = f"`n` must be a positive int, got {type(n).__name__}"
        raise TypeError(msg) from None
    if n < 1:
        msg = f"`n` must be a positive int, got {n}"
        raise ValueError(msg)
    _core.set_num_threads(n)


def get_num_threads() -> int:
    """Return the number of threads dlx's kernels and BLAS use."""
    return int(_core.get_num_threads())


def blas_info() -> dict[str, object]:
    """Describe the BLAS dlx is linked against: its build string and thread count."""
    return {"config": _core.blas_config(), "num_threads": _core.blas_num_threads()}
