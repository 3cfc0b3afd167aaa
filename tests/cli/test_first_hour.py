"""What a new user meets first: EarlyStopping says why it stopped, ``dist.init()`` works
without mpi4py, importing the source tree says what to do, dlx bounds libgomp's spin, and
``dlx.save`` carries user metadata."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import repo_paths
from dlx_testing import run_python
from train_testing import cross_entropy, digits, mlp

import dlx
import dlx.optim
from dlx.io import read_metadata
from dlx.train import Callback, EarlyStopping, fit

ROOT = repo_paths.ROOT


class _ValLoss(Callback):
    """Writes a scripted ``val_fake`` into the logs before EarlyStopping reads them."""

    def __init__(self, values: list[float]) -> None:
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["val_fake"] = self.values[epoch]


def _fit(stop: EarlyStopping, verbose: int, values: list[float]):
    x, y = digits(40)
    model = mlp()
    opt = dlx.optim.Adam(model.parameters(), lr=1e-3)
    return fit(model, cross_entropy, opt, (x, y), epochs=len(values), batch_size=20,
               callbacks=[_ValLoss(values), stop], verbose=verbose)  # fmt: skip


def test_early_stopping_says_when_and_why(capsys):
    stop = EarlyStopping(monitor="val_fake", patience=2, restore_best_weights=True)
    h = _fit(stop, verbose=1, values=[3.0, 2.0, 1.0, 1.5, 2.5, 3.0])
    assert len(h) == 5
    err = capsys.readouterr().err
    assert (
        "EarlyStopping: stopped after epoch 5: val_fake = 2.5 has not improved on 1 (epoch 3) "
        "for 2 epochs (patience 2)"
    ) in err
    assert "EarlyStopping: restored the weights of epoch 3 (val_fake = 1)" in err


def test_early_stopping_is_quiet_at_verbose_0_unless_asked(capsys):
    _fit(EarlyStopping(monitor="val_fake", patience=1), verbose=0, values=[1.0, 2.0, 3.0])
    assert "EarlyStopping" not in capsys.readouterr().err
    _fit(EarlyStopping(monitor="val_fake", patience=1, verbose=1), verbose=0, values=[1.0, 2.0])
    assert "stopped after epoch 2" in capsys.readouterr().err
    with pytest.raises(TypeError, match="`verbose` must be an int or None"):
        EarlyStopping(verbose="yes")


def test_dist_init_without_mpi4py_is_a_world_of_one(tmp_path):
    """The README's `dist.init()  # a world of 1 without mpirun`, with mpi4py absent."""
    code = """
import sys
sys.modules["mpi4py"] = None  # as if not installed
import numpy as np
import dlx, dlx.optim
import dlx.distributed as dist
from dlx import nn
from dlx.train import fit
assert dist.init() == (0, 1)
assert dist.is_initialized() and dist.is_main() and dist.get_world_size() == 1
dist.barrier()
buf = np.ones(3)
dist.allreduce_([buf])
assert buf.tolist() == [1.0, 1.0, 1.0]
net = nn.Sequential(nn.Linear(4, 2))
x = np.random.default_rng(0).random((16, 4)).astype(np.float32)
h = fit(net, nn.CrossEntropyLoss(), dlx.optim.SGD(net.parameters(), lr=0.1),
        (x, np.arange(16) % 2), epochs=1, verbose=0, distributed=True)
print("ok", len(h))
"""
    res = run_python(code, tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok 1"


def test_under_a_launcher_missing_mpi4py_is_an_error(tmp_path):
    code = """
import sys
sys.modules["mpi4py"] = None
import dlx.distributed as dist
try:
    dist.init()
except ImportError as exc:
    print("ImportError", exc)
"""
    env = dict(os.environ, OMPI_COMM_WORLD_SIZE="2")
    res = run_python(code, tmp_path, env=env)
    assert res.returncode == 0, res.stderr
    assert (
        'ImportError dlx.distributed needs mpi4py and an MPI library: pip install "dlx[mpi]"'
        in (res.stdout)
    )


def test_import_from_a_source_tree_explains_itself(tmp_path):
    """A checkout's dlx/ (no compiled _core) first on sys.path: one clear ImportError."""
    tree = tmp_path / "checkout"
    shutil.copytree(
        Path(dlx.__file__).parent,
        tree / "dlx",
        ignore=shutil.ignore_patterns("_core*.so", "_core*.pyd", "__pycache__"),
    )
    (tree / "pyproject.toml").write_text("[project]\nname = 'dlx'\n")
    numpy_site = str(Path(np.__file__).parent.parent)
    # -S: no site hooks (an editable install's import redirect would find the real dlx).
    code = f"import sys; sys.path[:0] = [{str(tree)!r}, {numpy_site!r}]; import dlx"
    res = subprocess.run(
        [sys.executable, "-S", "-c", code], cwd=tree, capture_output=True, text=True, check=False
    )
    assert res.returncode != 0
    assert "dlx is being imported from its source tree" in res.stderr
    assert "run the `dlx` command" in res.stderr.lower()
    assert "circular import" not in res.stderr


def test_bounded_spin_is_set_only_for_the_extension_load(tmp_path):
    from dlx._import_env import SPIN_DEFAULT, bounded_spin

    saved = {k: os.environ.pop(k, None) for k in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    try:
        with bounded_spin():
            assert os.environ["GOMP_SPINCOUNT"] == SPIN_DEFAULT
        assert "GOMP_SPINCOUNT" not in os.environ  # nothing leaks to torch or children
        os.environ["OMP_WAIT_POLICY"] = "active"  # the user's choice wins
        with bounded_spin():
            assert "GOMP_SPINCOUNT" not in os.environ
        del os.environ["OMP_WAIT_POLICY"]
        os.environ["GOMP_SPINCOUNT"] = "7"
        with bounded_spin():
            assert os.environ["GOMP_SPINCOUNT"] == "7"
        assert os.environ["GOMP_SPINCOUNT"] == "7"
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None)
            if v is not None:
                os.environ[k] = v
    res = run_python("import os, dlx; print(os.environ.get('GOMP_SPINCOUNT'))", tmp_path,
                     env={k: v for k, v in os.environ.items() if k != "GOMP_SPINCOUNT"})  # fmt: skip
    assert res.stdout.strip() == "None", res.stderr


def test_save_metadata(tmp_path):
    from dlx import nn

    path = tmp_path / "m.safetensors"
    dlx.save(nn.Sequential(nn.Linear(2, 2)), path, metadata={"note": "hello"})
    assert read_metadata(path)["note"] == "hello"
    assert dlx.load(path) is not None
    with pytest.raises(ValueError, match="reserved key 'dlx'"):
        dlx.save(nn.Sequential(nn.Linear(2, 2)), path, metadata={"dlx": "x"})
    with pytest.raises(ValueError, match="must map str to str"):
        dlx.save(nn.Sequential(nn.Linear(2, 2)), path, metadata={"n": 1})


@pytest.mark.skipif(importlib.util.find_spec("mpi4py") is not None, reason="mpi4py is installed")
def test_distributed_cli_without_mpi4py_trains_alone(tmp_path):
    res = run_python(
        "import sys; from dlx.__main__ import main; "
        "sys.exit(main(['train', '--distributed', '--model', 'mlp', '--epochs', '1', '--quiet']))",
        tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert "x 1 ranks" in res.stdout
