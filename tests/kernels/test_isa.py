"""Runtime ISA dispatch: the level chosen at import, DLX_CPU_CAPABILITY, dlx.cpu_info(), and
results of every level the test machine has (agreement across levels to the documented
tolerance, docs/ISA.md; the same bits for any thread count within each level)."""

from __future__ import annotations

import contextlib
import json
import os

import numpy as np
import pytest
from dlx_testing import run_python

import dlx
from dlx import _core, reference

LEVELS = ("baseline", "avx2", "avx512")
INFO = dlx.cpu_info()
# Levels this machine can run, lowest first (all of them at or below the best one).
AVAILABLE = LEVELS[: LEVELS.index(INFO["best"]) + 1]


@contextlib.contextmanager
def at_level(level):
    """Run the block with the kernels of `level` (a private hook; DLX_CPU_CAPABILITY is
    the public way and applies at import)."""
    before = dlx.cpu_info()["capability"]
    assert _core._select_cpu_capability(level) == level
    try:
        yield
    finally:
        _core._select_cpu_capability(before)


@contextlib.contextmanager
def threads(n):
    before = dlx.get_num_threads()
    dlx.set_num_threads(n)
    try:
        yield
    finally:
        dlx.set_num_threads(before)


def _info_in_subprocess(tmp_path, **env):
    code = "import json, dlx; print(json.dumps(dlx.cpu_info()))"
    return run_python(code, tmp_path, env={**os.environ, **env})


# -- the level and what reports it -------------------------------------------------------
def test_cpu_info_describes_the_cpu_and_the_levels():
    info = dlx.cpu_info()
    assert isinstance(info["model"], str)
    assert info["model"]
    assert info["capability"] in info["built"]
    assert info["best"] in info["built"]
    assert LEVELS.index(info["capability"]) <= LEVELS.index(info["best"])
    assert info["built"][0] == "baseline"
    if info["x86_64_v4"]:
        assert info["x86_64_v3"]
    cache = info["cache"]
    assert cache["source"] in ("cpuid", "sysfs", "default")
    assert 4096 <= cache["l1d"] <= cache["l2"]
    assert info["gemm"] == dlx.blas_info()["gemm"]
    for family, level in info["kernels"].items():
        assert isinstance(family, str)
        assert level is None or LEVELS.index(level) <= LEVELS.index(info["capability"])
    if info["gemm"] != "blas":
        blk = info["gemm_blocking"]
        assert info["gemm"] == f"dlx-{info['kernels']['sgemm']}"
        assert blk["nr"] % 16 == 0
        assert blk["mc"] % blk["mr"] == 0
        assert blk["kc"] >= 16


def test_python_m_dlx_info_reports_cpu_level_and_gemm(tmp_path):
    import subprocess
    import sys

    res = subprocess.run(
        [sys.executable, "-m", "dlx", "info", "--size", "64"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert f"CPU: {INFO['model']}" in out
    assert f"ISA level: {INFO['capability']}" in out
    assert "caches: L1d" in out
    assert f"float32 GEMM: {INFO['gemm']}" in out


@pytest.mark.parametrize("level", AVAILABLE)
def test_env_var_forces_a_level_at_import(tmp_path, level):
    res = _info_in_subprocess(tmp_path, DLX_CPU_CAPABILITY=level)
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)
    assert info["capability"] == level
    assert all(
        v is None or LEVELS.index(v) <= LEVELS.index(level) for v in info["kernels"].values()
    )
    if level == "baseline":
        assert info["gemm"] == "blas"
        assert info["gemm_blocking"] == {}


def test_env_var_accepts_upper_case_and_spaces(tmp_path):
    res = _info_in_subprocess(tmp_path, DLX_CPU_CAPABILITY=" BASELINE ")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["capability"] == "baseline"


@pytest.mark.parametrize("value", ["avx3", "sse2", "native", "avx-512"])
def test_env_var_with_an_unknown_level_fails_at_import(tmp_path, value):
    res = _info_in_subprocess(tmp_path, DLX_CPU_CAPABILITY=value)
    assert res.returncode != 0
    assert "ValueError" in res.stderr
    assert "`DLX_CPU_CAPABILITY` must be one of baseline, avx2, avx512" in res.stderr
    assert repr(value) in res.stderr


def test_env_var_above_the_cpu_warns_and_runs_the_best_level(tmp_path):
    if INFO["best"] == "avx512":
        pytest.skip("this CPU has every level; nothing to ask above it")
    res = _info_in_subprocess(tmp_path, DLX_CPU_CAPABILITY="avx512")
    assert res.returncode == 0, res.stderr
    assert "RuntimeWarning" in res.stderr
    assert "asks for more" in res.stderr
    assert json.loads(res.stdout)["capability"] == INFO["best"]


def test_select_rejects_unknown_names():
    with pytest.raises(ValueError, match="`name` must be 'baseline', 'avx2' or 'avx512'"):
        _core._select_cpu_capability("avx1024")
    assert dlx.cpu_info()["capability"] == INFO["capability"]


def test_baseline_level_has_no_own_gemm():
    with at_level("baseline"):
        assert dlx.blas_info()["gemm"] == "blas"
        with pytest.raises(ValueError, match="does not have"):
            dlx.set_gemm_backend("dlx")


def test_gemm_names_only_the_active_level():
    if INFO["gemm"] == "blas":
        pytest.skip("no own GEMM at this level")
    other = "dlx-avx2" if INFO["gemm"] == "dlx-avx512" else "dlx-avx512"
    with pytest.raises(ValueError, match="not the active level's GEMM"):
        dlx.set_gemm_backend(other)
    assert dlx.blas_info()["gemm"] == INFO["gemm"]


# -- results at every level --------------------------------------------------------------
def _gemm_cases(rng):
    # Edges of both register tiles (14 x 32, 6 x 16), K blocks and M blocks.
    for m, n, k in [(2, 16, 1), (5, 17, 7), (6, 31, 33), (13, 48, 300), (29, 100, 513)]:
        for ta, tb in [(False, False), (True, True), (False, True)]:
            a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
            b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
            yield a, b, ta, tb


def _conv_case(rng, c=16, o=24, hw=10):
    x = rng.standard_normal((3, c, hw, hw)).astype(np.float32)
    w = rng.standard_normal((o, c, 3, 3)).astype(np.float32) * 0.2
    b = rng.standard_normal(o).astype(np.float32)
    gy = rng.standard_normal((3, o, hw, hw)).astype(np.float32)
    return x, w, b, gy


def _lstm_case(rng, t=5, n=4, i=7, h=37):
    x = rng.standard_normal((t, n, i)).astype(np.float32)
    w_ih = (rng.standard_normal((4 * h, i)) * 0.4).astype(np.float32)
    w_hh = (rng.standard_normal((4 * h, h)) * 0.4).astype(np.float32)
    b = rng.standard_normal(4 * h).astype(np.float32)
    h0 = rng.standard_normal((n, h)).astype(np.float32)
    c0 = rng.standard_normal((n, h)).astype(np.float32)
    return x, w_ih, w_hh, b, b * 0.5, h0, c0


def _everything(rng):
    """Outputs of the kernels with per-level code on fixed inputs, with their tolerances."""
    out = []
    for a, b, ta, tb in _gemm_cases(rng):
        k = a.shape[0] if ta else a.shape[1]
        out.append(("gemm", _core.gemm(a, b, trans_a=ta, trans_b=tb), 2e-6 * np.sqrt(k)))
    x, w, bias, gy = _conv_case(rng)
    out.append(("conv2d_forward", _core.conv2d_forward(x, w, bias, padding=1), 1e-5))
    for name, g in zip("xwb", _core.conv2d_backward(gy, x, w, padding=1), strict=True):
        out.append((f"conv2d_backward g{name}", g, 1e-5))
    pool_in = rng.standard_normal((2, 3, 12, 70)).astype(np.float32)
    y, idx = _core.max_pool2d_forward(pool_in, 2)
    out += [("max_pool2d values", y, 0.0), ("max_pool2d indices", idx, 0.0)]
    args = _lstm_case(rng)
    y, _, c_n, ws = _core.rnn_forward("lstm", *args)
    out += [("lstm y", y, 1e-5), ("lstm c_n", c_n, 1e-5)]
    gy = rng.standard_normal(y.shape).astype(np.float32)
    x, w_ih, w_hh, _, _, h0, c0 = args
    grads = _core.rnn_backward("lstm", gy, None, None, x, w_ih, w_hh, h0, c0, y, ws)
    out += [(f"lstm grad {i}", g, 1e-5) for i, g in enumerate(grads) if g is not None]
    v = np.linspace(-12, 12, 4001, dtype=np.float32)
    for fn in ("tanh", "sigmoid", "gelu", "silu", "elu", "softplus"):
        out.append((fn, getattr(_core, f"{fn}_forward")(v), 1e-6))
    out.append(("log_softmax", _core.log_softmax_forward(v.reshape(1, -1)), 1e-6))
    return out


def _compare(name, got, ref, rel):
    scale = max(float(np.abs(ref).max()), 1.0)
    err = float(np.abs(got.astype(np.float64) - ref.astype(np.float64)).max())
    assert err <= rel * scale, f"{name}: max abs difference {err:.3g} > {rel:.3g} * {scale:.3g}"


@pytest.mark.parametrize("level", AVAILABLE)
def test_levels_agree_within_the_documented_tolerance(level):
    with at_level(INFO["best"]):
        ref = _everything(np.random.default_rng(7))
    with at_level(level):
        got = _everything(np.random.default_rng(7))
    for (name, g, rel), (_, r, _) in zip(got, ref, strict=True):
        _compare(f"{level} vs {INFO['best']}: {name}", g, r, rel)


@pytest.mark.parametrize("level", AVAILABLE)
def test_each_level_matches_the_float64_references(rng, level):
    with at_level(level):
        for a, b, ta, tb in _gemm_cases(rng):
            ref = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
            k = a.shape[0] if ta else a.shape[1]
            _compare("gemm", _core.gemm(a, b, trans_a=ta, trans_b=tb), ref, 2e-6 * np.sqrt(k))
        x, w, bias, gy = _conv_case(rng)
        x64, w64, b64, gy64 = (t.astype(np.float64) for t in (x, w, bias, gy))
        _compare(
            "conv2d_forward",
            _core.conv2d_forward(x, w, bias, padding=1),
            reference.conv2d_forward(x64, w64, b64, padding=1),
            1e-5,
        )
        refs = reference.conv2d_backward(gy64, x64, w64, padding=1)
        for g, r in zip(_core.conv2d_backward(gy, x, w, padding=1), refs, strict=True):
            _compare("conv2d_backward", g, r, 1e-5)
        v = np.linspace(-9, 9, 2001, dtype=np.float32)
        _compare("tanh", _core.tanh_forward(v), np.tanh(v.astype(np.float64)), 1e-6)


@pytest.mark.parametrize("level", AVAILABLE)
def test_same_bits_for_any_thread_count_within_a_level(level):
    with at_level(level):
        if dlx.blas_info()["gemm"] == "blas":
            pytest.skip("the bits promise is dlx's own GEMM's (OpenBLAS splits rows its own way)")
        results = []
        for n in (1, 2):
            with threads(n):
                results.append(_everything(np.random.default_rng(3)))
    for (name, a, _), (_, b, _) in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b, err_msg=f"{level}: {name}")


def _ulp_error(got, ref):
    ref32 = ref.astype(np.float32)
    spacing = np.spacing(np.abs(ref32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - ref) / spacing


@pytest.mark.parametrize("level", AVAILABLE)
def test_vector_tanh_of_each_level_is_accurate(level):
    # A one-step tanh RNN with W_ih = 1 (one input, one unit) and no bias is exactly the
    # cell's tanh: the level's vector tanh (vmath_simd.h) at avx2 / avx512.
    v = np.linspace(-11, 11, 200_001, dtype=np.float32)
    v = np.concatenate([v, [0.0, -0.0, 1e-30, -1e-30, 20.0, -20.0]]).astype(np.float32)
    x = v.reshape(1, -1, 1)
    w_ih = np.ones((1, 1), np.float32)
    w_hh = np.zeros((1, 1), np.float32)
    with at_level(level):
        y = _core.rnn_forward("rnn_tanh", x, w_ih, w_hh)[0].reshape(-1)
    ulp = _ulp_error(y, np.tanh(v.astype(np.float64)))
    assert ulp.max() <= 6.0, f"{level}: {ulp.max():.1f} ulp at x = {v[ulp.argmax()]}"
    assert np.all(np.abs(y) <= 1.0)
    with at_level(level):
        nan = _core.rnn_forward("rnn_tanh", np.full((1, 3, 1), np.nan, np.float32), w_ih, w_hh)[0]
    assert np.isnan(nan).all()


@pytest.mark.parametrize("level", AVAILABLE)
@pytest.mark.parametrize("w", [2, 16, 17, 34, 70])
def test_max_pool_2x2_rows_of_each_level_keep_the_tie_and_nan_rules(rng, level, w):
    x = rng.integers(-3, 3, size=(2, 3, 6, w)).astype(np.float32)  # many ties
    x[0, 0, 1, ::5] = np.nan
    x[1, 2, :, 3 % w] = -np.inf
    with at_level(level):
        y, idx = _core.max_pool2d_forward(x, 2)
    ry, ridx = reference.max_pool2d_forward(x, 2)
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(idx, ridx)


@pytest.mark.parametrize("level", [lv for lv in AVAILABLE if lv != "baseline"])
def test_gemm_blocking_follows_the_cache_sizes(level):
    # An Intel core with 48 KiB L1d / 2 MiB L2 and an AMD core with 32 KiB / 1 MiB (or 512
    # KiB) get blocks sized for their own caches, each within the cache it is meant for.
    with at_level(level):
        blk = dlx.cpu_info()["gemm_blocking"]
        mr, nr = blk["mr"], blk["nr"]
        sizes = {
            "intel": (48 << 10, 2 << 20, 105 << 20),
            "zen4": (32 << 10, 1 << 20, 32 << 20),
            "zen3": (32 << 10, 512 << 10, 16 << 20),
        }
        got = {name: _core._gemm_blocking_for(*c) for name, c in sizes.items()}
        cache = dlx.cpu_info()["cache"]
        assert {k: blk[k] for k in ("mc", "kc", "nc")} == _core._gemm_blocking_for(
            cache["l1d"], cache["l2"], cache["l3"]
        )
    for name, (l1d, l2, _) in sizes.items():
        b = got[name]
        assert b["mc"] % mr == 0
        assert b["nc"] % nr == 0
        assert b["kc"] % 16 == 0
        assert b["kc"] * nr * 4 <= l1d  # a B panel fits L1
        assert b["mc"] * b["kc"] * 4 <= l2 // 2  # the A block fits half of L2
    assert got["intel"]["mc"] * got["intel"]["kc"] > got["zen4"]["mc"] * got["zen4"]["kc"]
    assert got["zen4"]["mc"] > got["zen3"]["mc"]
    with pytest.raises(ValueError, match="l2 >= l1d"):
        _core._gemm_blocking_for(1 << 20, 1 << 10, 0)
