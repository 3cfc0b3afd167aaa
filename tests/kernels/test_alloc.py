"""glibc malloc tuning at import (csrc/alloc.h): on by default, DLX_MALLOC_TUNING=0 skips it."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from dlx import _core


def _tuned_in_child(**env: str) -> str:
    code = "from dlx import _core; print(_core.allocator_tuned)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_allocator_tuned_is_bool():
    assert isinstance(_core.allocator_tuned, bool)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_allocator_tuning_opt_out():
    assert _tuned_in_child(DLX_MALLOC_TUNING="0") == "False"
    assert _tuned_in_child(MALLOC_TRIM_THRESHOLD_="131072") == "False"


def test_kernel_outputs_start_on_cache_lines():
    # Outputs of 4 KiB and more are 64-byte aligned (rows with a stride that is a multiple
    # of 64 bytes never straddle cache lines); they are ordinary writeable arrays that keep
    # their memory alive after the producing call's other outputs are gone.
    import gc

    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((7, 5, 3), dtype=np.float32)
    w_ih = rng.standard_normal((4 * 16, 3), dtype=np.float32)
    w_hh = rng.standard_normal((4 * 16, 16), dtype=np.float32)
    for _ in range(8):  # several allocations, so a lucky 64-byte start is not enough
        y, h_n, c_n, ws = _core.rnn_forward("lstm", x, w_ih, w_hh)
        assert ws.nbytes >= 4096
        assert ws.ctypes.data % 64 == 0
        assert ws.flags.c_contiguous
        assert ws.flags.writeable
    keep = ws
    del y, h_n, c_n, ws
    gc.collect()
    keep[...] = 1.5
    assert float(keep.sum()) == 1.5 * keep.size
