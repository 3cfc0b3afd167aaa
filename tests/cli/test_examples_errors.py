"""The example scripts run as typed (``python examples/NAME.py ...``): a user mistake ends in
one line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import repo_paths

EXAMPLES = repo_paths.EXAMPLES
pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(), reason="examples/ not in this checkout")


def run_example(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    # No -P here: a script's own directory (examples/) must stay on sys.path for _common;
    # the checkout root is not put there, so the installed dlx is imported.
    return subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("name", "args", "fragment"),
    [
        ("mnist_cnn", [], "the following arguments are required: --data"),
        ("mnist_mlp", ["--data", "no-such-dir"], "is not a directory"),
        ("mnist_logistic", ["--data", "."], "missing file 'train-images-idx3-ubyte'"),
        ("cifar10_cnn", ["--data", "."], "missing file 'data_batch_1.bin'"),
        ("digits_mlp", ["--epochs", "0"], "--epochs: must be an int >= 1, got '0'"),
        ("digits_cnn", ["--epochs", "-1"], "--epochs: must be an int >= 1, got '-1'"),
        ("sine_regression", ["--seed", "-1"], "--seed: must be an int >= 0"),
        ("init_histograms", ["--depth", "0"], "--depth: must be an int >= 1"),
    ],
)
def test_example_mistakes_are_one_line(tmp_path, name, args, fragment):
    res = run_example(name, *args, cwd=tmp_path)
    assert res.returncode == 2, (res.stdout, res.stderr)
    err = res.stderr.strip()
    assert "Traceback" not in err
    assert "\n" not in err, err
    assert fragment in err
    assert err.startswith(f"{name}.py: error: ")
