"""Crash safety: a writer SIGKILLed at a random moment, dozens of times, never leaves a
torn, mixed or unreadable model file or checkpoint, and its temporaries are cleaned up."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

import dlx
from dlx import nn
from dlx.train import load_checkpoint

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")
KILLS = 24

# Saves version v of a 2 x 256 KB model (every weight equal to v) to model.safetensors and
# a checkpoint of epoch v, again and again; prints v after each complete pair.
_WRITER = """
import sys
import numpy as np
import dlx, dlx.optim
from dlx import nn
from dlx.train import save_checkpoint

dlx.manual_seed(0)
model = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 256))
opt = dlx.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
shapes = {k: np.shape(v) for k, v in model.state_dict().items()}
v = int(sys.argv[1])
while True:
    model.load_state_dict({k: np.full(s, v, np.float32) for k, s in shapes.items()})
    dlx.save(model, "model.safetensors")
    save_checkpoint("ckpt.safetensors", model, opt, epoch=v, step=v)
    print(v, flush=True)
    v += 1
"""


def _model():
    return nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 256))


def _version(state) -> int:
    """The one value every tensor holds (a complete version), else the test fails."""
    values = {float(np.unique(np.asarray(t))[0]) for t in state.values()}
    sizes = {np.unique(np.asarray(t)).size for t in state.values()}
    assert sizes == {1}, "a tensor holds a mix of versions"
    assert len(values) == 1, f"tensors from different versions: {sorted(values)}"
    return int(values.pop())


@pytest.fixture
def scratch(tmp_path):
    """A directory in memory when there is one (/dev/shm): a SIGKILL is not a power cut,
    so what is tested is the rename, not the disk, and fsync there costs nothing."""
    if not os.path.isdir("/dev/shm"):
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(dir="/dev/shm", prefix="dlx-crash-") as d:
        yield Path(d)


def test_sigkill_during_saves_never_leaves_a_torn_file(scratch):
    tmp_path = scratch
    rng = random.Random(0)
    cmd = [sys.executable, "-P", "-c", _WRITER]
    newest = -1
    kills = torn = 0  # torn: kills that interrupted a write (a temporary was left)
    for trial in range(KILLS):
        with subprocess.Popen(
            [*cmd, str(newest + 1)], cwd=tmp_path, stdout=subprocess.PIPE, text=True
        ) as proc:
            assert proc.stdout is not None
            first = proc.stdout.readline()  # one complete pair exists from here on
            assert first.strip(), "writer died before its first save"
            time.sleep(rng.uniform(0.0, 0.15))  # then kill it mid-way through some write
            proc.send_signal(signal.SIGKILL)
            kills += 1
            proc.wait(30)
        torn += any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
        model = dlx.load(tmp_path / "model.safetensors")
        saved = _version(model.state_dict())
        meta = load_checkpoint(tmp_path / "ckpt.safetensors", m := _model(), restore_rng=False)
        epoch = meta["epoch"]
        assert _version(m.state_dict()) == epoch == meta["step"]
        assert saved >= newest, f"trial {trial}: an older model file is back"
        assert epoch >= newest, f"trial {trial}: an older checkpoint is back"
        assert epoch in (saved, saved - 1)  # the checkpoint follows the model file
        newest = max(saved, epoch)
    assert kills == KILLS
    assert torn >= KILLS // 4, f"only {torn} of {kills} kills interrupted a write"
    # Killed writers leave temporaries; the next successful save of a new process (which
    # started after they were written) removes those of its targets.
    time.sleep(0.2)
    finished = subprocess.run(
        [*cmd[:-1], _WRITER.replace("while True:", "for _ in range(1):"), str(newest + 1)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert finished.stdout.strip() == str(newest + 1)
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp"))
    assert leftovers == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.safetensors", "model.safetensors"]
