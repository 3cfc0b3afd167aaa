"""dlx's own float32 GEMM (csrc/sgemm.cpp) against float64 NumPy and against the BLAS."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest
from dlx_testing import run_python

import dlx
from dlx import _core

# Kernels with per-level code: CI runs this file again at every ISA level (.ci/run).
pytestmark = pytest.mark.isa_levels

needs_own = pytest.mark.skipif(
    _core.gemm_backend() == "blas", reason="no own GEMM at this ISA level (or DLX_GEMM=blas)"
)


@pytest.fixture
def own_gemm():
    before = _core.gemm_backend()
    dlx.set_gemm_backend("dlx")
    yield
    dlx.set_gemm_backend(before)


def _operands(rng, m, n, k, ta, tb):
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    return a, b


def _reference(a, b, ta, tb, alpha=1.0, beta=0.0, c=None):
    prod = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
    out = alpha * prod
    if beta != 0.0:
        out = out + beta * c.astype(np.float64)
    return out


# Shapes around every blocking edge of both levels: 14 x 32 (AVX-512) and 6 x 16 (AVX2)
# tiles and balanced splits of them, K blocks (256 / 512 here), M blocks (224 / 114 here,
# from the cache sizes), N blocks of 3072.
SHAPES = [
    (6, 16, 8),
    (7, 31, 520),
    (120, 40, 1030),
    (2, 16, 1),
    (3, 17, 5),
    (14, 32, 16),
    (15, 33, 17),
    (16, 784, 144),
    (29, 47, 255),
    (64, 49, 576),
    (225, 65, 257),
    (230, 100, 513),
    (5, 3100, 40),
]


@needs_own
@pytest.mark.usefixtures("own_gemm")
@pytest.mark.parametrize(("m", "n", "k"), SHAPES)
@pytest.mark.parametrize(("ta", "tb"), list(itertools.product([False, True], repeat=2)))
def test_matches_float64_reference(rng, m, n, k, ta, tb):
    a, b = _operands(rng, m, n, k, ta, tb)
    out = _core.gemm(a, b, trans_a=ta, trans_b=tb)
    ref = _reference(a, b, ta, tb)
    np.testing.assert_allclose(out, ref, rtol=0, atol=2e-6 * np.sqrt(k) * np.abs(ref).max())


@needs_own
@pytest.mark.usefixtures("own_gemm")
@pytest.mark.parametrize("beta", [0.0, 1.0, -0.5])
def test_alpha_beta_accumulate_into_out(rng, beta):
    m, n, k = 37, 70, 300  # two K blocks: beta must apply once, not per block
    a, b = _operands(rng, m, n, k, False, True)
    c = rng.standard_normal((m, n)).astype(np.float32)
    out = c.copy()
    res = _core.gemm(a, b, out=out, trans_b=True, alpha=0.75, beta=beta)
    assert res is out or np.shares_memory(res, out)
    ref = _reference(a, b, False, True, 0.75, beta, c)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-4 * np.abs(ref).max())


@needs_own
@pytest.mark.usefixtures("own_gemm")
def test_beta_zero_ignores_nan_in_out(rng):
    a, b = _operands(rng, 20, 40, 30, False, False)
    out = np.full((20, 40), np.nan, np.float32)
    _core.gemm(a, b, out=out, beta=0.0)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, _reference(a, b, False, False), rtol=1e-5, atol=1e-5)


@needs_own
@pytest.mark.usefixtures("own_gemm")
def test_writes_only_inside_out(rng):
    # Masked stores at a ragged panel edge must not touch the neighbouring columns.
    a, b = _operands(rng, 9, 21, 11, False, False)
    big = np.full((9, 40), 7.0, np.float32)
    out = big[:, 5:26]
    with pytest.raises((ValueError, TypeError)):
        _core.gemm(a, b, out=out)  # a strided view is refused, not silently copied
    np.testing.assert_array_equal(big, 7.0)
    flat = np.full(9 * 21 + 8, 7.0, np.float32)
    out = flat[:-8].reshape(9, 21)
    _core.gemm(a, b, out=out)
    np.testing.assert_array_equal(flat[-8:], 7.0)


@needs_own
@pytest.mark.usefixtures("own_gemm")
def test_same_bits_for_any_thread_count(rng):
    a, b = _operands(rng, 300, 700, 600, False, True)
    before = dlx.get_num_threads()
    try:
        dlx.set_num_threads(1)
        one = _core.gemm(a, b, trans_b=True)
        dlx.set_num_threads(2)
        two = _core.gemm(a, b, trans_b=True)
    finally:
        dlx.set_num_threads(before)
    np.testing.assert_array_equal(one, two)


@needs_own
def test_agrees_with_blas(rng):
    a, b = _operands(rng, 64, 256, 1024, True, False)
    before = _core.gemm_backend()
    try:
        dlx.set_gemm_backend("blas")
        via_blas = _core.gemm(a, b, trans_a=True)
        dlx.set_gemm_backend("dlx")
        via_own = _core.gemm(a, b, trans_a=True)
    finally:
        dlx.set_gemm_backend(before)
    np.testing.assert_allclose(via_own, via_blas, rtol=1e-4, atol=1e-3)


def test_blas_info_names_the_backend():
    assert dlx.blas_info()["gemm"] in ("dlx-avx512", "dlx-avx2", "blas")
    assert dlx.blas_info()["gemm"] == dlx.cpu_info()["gemm"]


@pytest.mark.parametrize(
    ("name", "exc", "match"),
    [
        (3, TypeError, "`name` must be one of .* got int"),
        ("mkl", ValueError, "`name` must be one of .* got 'mkl'"),
    ],
)
def test_set_gemm_backend_rejects_bad_names(name, exc, match):
    before = _core.gemm_backend()
    with pytest.raises(exc, match=match):
        dlx.set_gemm_backend(name)
    assert _core.gemm_backend() == before


def test_env_var_selects_blas(tmp_path):
    code = "import dlx; print(dlx.blas_info()['gemm'])"
    res = run_python(code, tmp_path, env={**os.environ, "DLX_GEMM": "blas"})
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "blas"
