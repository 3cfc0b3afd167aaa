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
    """Describe the BLAS dlx is linked against and the float32 GEMM it runs.

    Returns a dict with ``config`` (the BLAS build string), ``num_threads`` (the BLAS
    thread count) and ``gemm`` (``"dlx-avx512"``, ``"dlx-avx2"`` or ``"blas"``, see
    :func:`set_gemm_backend`).
    """
    return {
        "config": _core.blas_config(),
        "num_threads": _core.blas_num_threads(),
        "gemm": _core.gemm_backend(),
    }


GEMM_BACKENDS = ("dlx", "dlx-avx512", "dlx-avx2", "blas")


def set_gemm_backend(name: str) -> None:
    """Choose the float32 matrix product behind dense layers, convolutions and RNNs.

    Parameters
    ----------
    name : {"dlx", "dlx-avx512", "dlx-avx2", "blas"}
        ``"dlx"`` is dlx's own packed kernel for the ISA level in use (see
        :func:`dlx.cpu_info`), which :func:`blas_info` reports as ``"dlx-avx512"`` or
        ``"dlx-avx2"`` (those names are accepted for the level in use only); it is the
        default on CPUs with AVX2 or AVX-512 and does not depend on the BLAS's CPU
        detection (an environment that sets ``OPENBLAS_CORETYPE`` to an AVX2 core halves
        OpenBLAS's speed on an AVX-512 machine). ``"blas"`` uses the linked BLAS for every
        product; it is the only choice at the baseline level. float64 always uses the BLAS.
        The environment variable ``DLX_GEMM=blas`` sets the default at import.
        Process-wide.
    """
    if not isinstance(name, str):
        msg = f"`name` must be one of {GEMM_BACKENDS}, got {type(name).__name__}"
        raise TypeError(msg)
    if name not in GEMM_BACKENDS:
        msg = f"`name` must be one of {GEMM_BACKENDS}, got {name!r}"
        raise ValueError(msg)
    _core.set_gemm_backend(name)
