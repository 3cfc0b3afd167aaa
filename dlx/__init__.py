"""dlx: a small, fast deep-learning library with C++ kernels over NumPy arrays."""

from __future__ import annotations

from dlx._threads import blas_info, get_num_threads, set_num_threads

__version__ = "0.1.0"

__all__ = ["__version__", "blas_info", "get_num_threads", "set_num_threads"]
