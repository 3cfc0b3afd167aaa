"""Loads the compiled kernels (``dlx._core``) and wires them to the process."""

from __future__ import annotations

import os

from dlx._import_env import bounded_spin, missing_core_error

try:
    with bounded_spin():  # libgomp reads its wait policy when the extension loads it
        from dlx import _core
except ImportError as exc:  # pragma: no cover - depends on the install layout
    hint = missing_core_error()
    if hint is not None:  # no compiled _core at all: usually the checkout shadows the install
        raise hint from None
    # The extension finds libscipy_openblas.so through its RUNPATH in a normal install.
    # Layouts such as `pip install --target` break that; importing the wheel's package
    # loads the library globally, after which the extension resolves it by SONAME.
    if "scipy_openblas" not in str(exc):
        raise
    import scipy_openblas32  # type: ignore[import-untyped]  # noqa: F401

    with bounded_spin():
        from dlx import _core

# libgomp cannot run a parallel region in a forked child once the parent used OpenMP,
# and the BLAS threads callback runs BLAS on that pool; give BLAS its own pool back.
os.register_at_fork(after_in_child=_core._after_fork_child)

__all__ = ["_core"]
