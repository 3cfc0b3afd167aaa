"""The README's Python examples run as written (in order, sharing one namespace)."""

from __future__ import annotations

import re

import pytest
import repo_paths
from dlx_testing import run_python

README = repo_paths.ROOT / "README.md"


def test_readme_python_examples_run(tmp_path):
    if not README.exists():
        pytest.skip("README.md not next to the tests")
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert blocks, "README has no python examples"
    # A fresh process in a scratch directory: the examples write files, set thread counts
    # and initialise MPI, none of which should leak into the test session.
    res = run_python("\n".join(blocks), tmp_path, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
