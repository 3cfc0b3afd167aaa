"""Test helpers: dtype tolerances and a float64 finite-difference gradient check."""

from __future__ import annotations

import contextlib

import numpy as np

# Kernel vs reference tolerances (issue: float64 to 1e-10 relative, float32 to 1e-5).
TOL = {np.float32: {"rtol": 1e-5, "atol": 1e-5}, np.float64: {"rtol": 1e-10, "atol": 1e-12}}


def assert_close(actual, expected, dtype=None, **kw) -> None:
    """Compare a kernel result to its reference with the dtype's tolerance (kw overrides)."""
    dt = np.dtype(dtype or np.asarray(actual).dtype).type
    tol = dict(TOL[dt])
    tol.update(kw)
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), **tol)


def numerical_grad(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar function f() at x (perturbs x in place)."""
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        fp = f()
        flat[i] = old - eps
        fm = f()
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * eps)
    return g


def check_grad(
    f,
    x: np.ndarray,
    analytic: np.ndarray,
    eps: float = 1e-6,
    rtol: float = 1e-5,
    atol: float = 1e-7,
) -> None:
    """Assert the analytic gradient of scalar f() at float64 x matches central differences."""
    assert x.dtype == np.float64
    num = numerical_grad(f, x, eps)
    np.testing.assert_allclose(analytic, num, rtol=rtol, atol=atol)


def run_python(code: str, cwd, check: bool = False, **kwargs):
    """Run ``python -P -c code`` in a fresh process started in ``cwd`` (a temporary directory).

    ``-P`` keeps the working directory off ``sys.path``: started in the checkout, Python
    would otherwise import the source tree (which has no built ``_core``) instead of the
    installed package.
    """
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-P", "-c", code],
        check=check,
        cwd=cwd,
        capture_output=True,
        text=True,
        **kwargs,
    )


@contextlib.contextmanager
def own_float32_gemm():
    """Run the block on dlx's own float32 GEMM; skip the test on builds without it.

    Bit-identical results across thread counts are a property of that kernel (its tiles and
    K blocks do not depend on the thread count). OpenBLAS may round an element differently
    when a product's rows are split differently between threads (edge kernels sum in another
    order), so those tests do not hold under ``DLX_GEMM=blas``.
    """
    import pytest

    import dlx
    from dlx import _core

    before = _core.gemm_backend()
    try:
        dlx.set_gemm_backend("dlx")
    except ValueError:
        pytest.skip("no dlx float32 GEMM at this ISA level")
    try:
        yield
    finally:
        dlx.set_gemm_backend(before)
