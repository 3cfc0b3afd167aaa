"""benchmarks/run.py works typed in the checkout and writes its JSON even when a case fails."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest
import repo_paths

ROOT = repo_paths.ROOT
BENCH = ROOT / "benchmarks"
pytestmark = pytest.mark.skipif(not BENCH.is_dir(), reason="benchmarks/ not in this checkout")


def test_run_py_from_the_checkout_writes_json(tmp_path):
    """The start-up suite times `import dlx` in `python -P -c` children started in the cwd."""
    out = tmp_path / "r.json"
    cmd = [sys.executable, "benchmarks/run.py", "--suite", "startup", "--rounds", "1"]
    res = subprocess.run(
        [*cmd, "--json", str(out)],
        cwd=ROOT,  # as a user types it, in the checkout
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    data = json.loads(out.read_text())
    assert [c["name"] for c in data["cases"]] == ["import time (fresh process)"]
    assert data["failed"] == []


def test_a_failing_case_is_reported_and_the_json_still_written(tmp_path, monkeypatch):
    (tmp_path / "bench_boom.py").write_text(
        "from harness import Case\n"
        "def boom():\n"
        "    raise RuntimeError('kernel exploded')\n"
        "def cases(size):\n"
        "    yield Case('boom', {'dlx': boom})\n"
        "    yield Case('fine', {'dlx': lambda: None})\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(BENCH))
    run = importlib.import_module("run")
    monkeypatch.setattr(run, "SUITES", ["bench_boom", "bench_missing_module"])
    monkeypatch.setattr(run, "HERE", tmp_path)  # bench_boom.py lives there
    (tmp_path / "bench_missing_module.py").write_text("import no_such_module_anywhere\n")
    out = tmp_path / "r.json"
    assert run.main(["--rounds", "1", "--json", str(out)]) == 1
    data = json.loads(out.read_text())
    assert [c["name"] for c in data["cases"]] == ["fine"]
    failed = {f["name"]: f["error"] for f in data["failed"]}
    assert failed["boom"] == "RuntimeError: kernel exploded"
    assert "no_such_module_anywhere" in failed["bench_missing_module"]
