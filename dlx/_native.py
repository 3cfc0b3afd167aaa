"""Loads the compiled kernels (``dlx._core``) and wires them to the process."""

from __future__ import annotations

import os
import warnings

CPU_CAPABILITIES = ("baseline", "avx2", "avx512")


def _requested_capability() -> str | None:
    """The level ``DLX_CPU_CAPABILITY`` asks for (None when unset or empty)."""
    value = os.environ.get("DLX_CPU_CAPABILITY", "").strip()
    if not value:
        return None
    if value.lower() not in CPU_CAPABILITIES:
        msg = (
            f"environment variable `DLX_CPU_CAPABILITY` must be one of "
            f"{', '.join(CPU_CAPABILITIES)} (or unset), got {value!r}"
        )
        raise ValueError(msg)
    return value.lower()


_REQUESTED = _requested_capability()  # checked before anything is loaded

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

# The kernels of one ISA level serve the whole process, chosen here, once: the best the CPU
# supports, or the lower one DLX_CPU_CAPABILITY forces (never a higher one).
if _REQUESTED is not None:
    _active = _core._select_cpu_capability(_REQUESTED)
    if _active != _REQUESTED:
        warnings.warn(
            f"DLX_CPU_CAPABILITY={_REQUESTED} asks for more than this CPU (or build) supports; "
            f"dlx runs its {_active} kernels",
            RuntimeWarning,
            stacklevel=2,
        )

# libgomp cannot run a parallel region in a forked child once the parent used OpenMP,
# and the BLAS threads callback runs BLAS on that pool; give BLAS its own pool back.
os.register_at_fork(after_in_child=_core._after_fork_child)

__all__ = ["CPU_CAPABILITIES", "_core"]
