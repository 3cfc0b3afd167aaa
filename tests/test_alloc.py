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
