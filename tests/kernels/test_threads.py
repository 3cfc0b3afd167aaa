from __future__ import annotations

import os

import numpy as np
import pytest
from dlx_testing import run_python

import dlx
from dlx import _core


def test_set_num_threads_round_trip():
    before = dlx.get_num_threads()
    try:
        dlx.set_num_threads(1)
        assert dlx.get_num_threads() == 1
        assert _core.blas_num_threads() == 1
        dlx.set_num_threads(2)
        assert dlx.get_num_threads() == 2
        assert _core.blas_num_threads() == 2
    finally:
        dlx.set_num_threads(before)


@pytest.mark.parametrize("bad", [0, -3])
def test_set_num_threads_rejects_non_positive(bad):
    with pytest.raises(ValueError, match=rf"`n` must be a positive int, got {bad}"):
        dlx.set_num_threads(bad)


@pytest.mark.parametrize("bad", [1.5, "2", None, True])
def test_set_num_threads_rejects_non_int(bad):
    with pytest.raises(TypeError, match=r"`n` must be a positive int"):
        dlx.set_num_threads(bad)


def test_blas_is_the_pypi_openblas():
    info = dlx.blas_info()
    assert "OpenBLAS" in info["config"]
    assert info["num_threads"] >= 1


def test_import_in_fresh_process_without_library_path(tmp_path):
    """The installed extension finds its BLAS through RUNPATH: no LD_LIBRARY_PATH needed."""
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    code = "import dlx, sys; from dlx import _core; print('scipy_openblas32' in sys.modules)"
    out = run_python(code, tmp_path, env=env, check=True, timeout=120)
    assert out.stdout.strip() == "False", "dlx should load OpenBLAS via RUNPATH, not a preload"


def test_threadpoolctl_sees_dlx_openblas():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    infos = threadpoolctl.threadpool_info()
    ours = [
        i
        for i in infos
        if "scipy_openblas" in i.get("filepath", "") and "numpy" not in i.get("filepath", "")
    ]
    assert ours, infos
    assert ours[0]["internal_api"] == "openblas"


def test_gemm_after_fork_in_child_works(tmp_path):
    """BLAS in a forked child must not hang on the parent's OpenMP pool."""
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    a = np.ones((256, 256), np.float32)
    _core.gemm(a, a)  # the parent has run BLAS (through the OpenMP callback)
    code = (
        "import os, numpy as np\n"
        "from dlx import _core\n"
        "a = np.ones((256, 256), np.float32); _core.gemm(a, a)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    ok = float(_core.gemm(a, a)[0, 0]) == 256.0\n"
        "    os._exit(0 if ok else 3)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "raise SystemExit(os.waitstatus_to_exitcode(status))\n"
    )
    res = run_python(code, tmp_path, timeout=60)
    assert res.returncode == 0, res.stderr


def test_forked_child_runs_kernels_on_one_thread(tmp_path):
    """OpenMP kernels (conv, dlx's own GEMM) in a forked child run single-threaded, not hang."""
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    code = (
        "import os, numpy as np, dlx\n"
        "from dlx import nn\n"
        "dlx.set_num_threads(2)\n"
        "conv = nn.Conv2d(3, 8, 3)\n"
        "x = dlx.tensor(np.ones((4, 3, 16, 16), np.float32), requires_grad=True)\n"
        "conv(x).sum().backward()  # the parent's OpenMP pool now exists\n"
        "big = np.ones((512, 512), np.float32)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    conv(x).sum().backward()\n"
        "    ok = dlx.get_num_threads() == 1 and float(dlx._core.gemm(big, big)[3, 4]) == 512.0\n"
        "    os._exit(0 if ok else 3)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "assert dlx.get_num_threads() == 2\n"
        "raise SystemExit(os.waitstatus_to_exitcode(status))\n"
    )
    res = run_python(code, tmp_path, timeout=60)
    assert res.returncode == 0, res.stderr


def test_tests_import_the_installed_package():
    """Plain `pytest` must import the built package (with _core), not a bare source tree."""
    import dlx._core as core

    assert core.__file__.endswith((".so", ".pyd"))
