"""What loading the compiled extension needs from the process (used by ``dlx._native``).

* :func:`bounded_spin`: libgomp's wait policy. An idle OpenMP worker spins up to
  ``GOMP_SPINCOUNT`` iterations before it sleeps; libgomp's default is 300,000 (about 8 ms
  on a current x86 core), longer than a scheduler time slice. On a machine where another
  process keeps a core busy, the spinning workers take the time the worker sharing a core
  with it needs, and a 2-thread training step ran 3-6x slower than idle
  (``benchmarks/bench_busy.py``). dlx bounds the spin to 1,000 iterations (about 25 us,
  longer than the gap between two kernels of a training step) unless the user set
  ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT``. libgomp reads them once, when it is loaded,
  so the default is set only for the import of the extension and removed again: other
  libraries loaded later (e.g. PyTorch's own libgomp) and child processes keep theirs.
* :func:`missing_core_error`: one clear ImportError when there is no compiled ``_core`` at
  all, usually because Python put a checkout's source tree (which has none) first on
  ``sys.path`` in place of the installed package.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator

SPIN_DEFAULT = "1000"


@contextlib.contextmanager
def bounded_spin() -> Iterator[None]:
    """Set ``GOMP_SPINCOUNT`` for the duration of the block unless the user chose a policy."""
    chosen = "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ
    if not chosen:
        os.environ["GOMP_SPINCOUNT"] = SPIN_DEFAULT
    try:
        yield
    finally:
        if not chosen:
            os.environ.pop("GOMP_SPINCOUNT", None)


def missing_core_error() -> ImportError | None:
    """An ImportError explaining a missing compiled extension (``dlx._core`` or
    ``dlx._autograd``), or None if both exist."""
    try:
        if all(importlib.util.find_spec(m) is not None for m in ("dlx._core", "dlx._autograd")):
            return None
    except (ImportError, ValueError):
        pass
    package = os.path.dirname(os.path.abspath(__file__))
    checkout = os.path.dirname(package)
    if os.path.isfile(os.path.join(checkout, "pyproject.toml")):
        msg = (
            f"dlx is being imported from its source tree ({package}), which has no compiled "
            "extensions (`dlx._core`, `dlx._autograd`): Python puts the current directory (or a script's "
            "directory) first on sys.path, so the checkout shadows the installed dlx. Run "
            "the `dlx` command instead of `python -m dlx`, start Python with -P, or work "
            "from another directory; for development, install in editable mode "
            '(pip install --no-build-isolation -e ".[test]", see CONTRIBUTING.md)'
        )
    else:
        msg = (
            f"dlx's compiled extensions (`dlx._core`, `dlx._autograd`) are missing from "
            f"{package}; reinstall "
            "dlx (pip install --force-reinstall dlx)"
        )
    return ImportError(msg)
