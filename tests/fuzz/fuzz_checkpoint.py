"""Fuzz target: ``load_checkpoint`` on hostile checkpoint metadata and files.

The first byte picks the mode: even, the rest is a whole file; odd, the rest is the
``dlx-checkpoint`` metadata JSON stored next to the tensors of a real checkpoint, so the
field checks and the restoring code see well-formed tensors with arbitrary metadata.
"""

from __future__ import annotations

import os
import tempfile

from _harness import main, write_input

MODULES = ["dlx.train.checkpoint", "dlx.optim", "dlx.data"]
_DIR = tempfile.mkdtemp(prefix="dlx-fuzz-")
_PATH = os.path.join(_DIR, "ckpt.safetensors")
_state: dict = {}


def _objects():
    """A small model with optimiser, scheduler and loader, fresh for every input."""
    import numpy as np

    import dlx
    import dlx.optim
    from dlx import nn

    dlx.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    opt = dlx.optim.Adam(model.parameters(), lr=0.01)
    sched = dlx.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    loader = dlx.data.DataLoader(dlx.data.TensorDataset(np.zeros((4, 3))), batch_size=2)
    return model, opt, sched, loader


def _real_tensors() -> dict:
    if not _state:
        from dlx.io import load_file
        from dlx.train import save_checkpoint

        model, opt, sched, loader = _objects()
        x = model(__import__("dlx").randn(4, 3)).sum()
        x.backward()
        opt.step()
        save_checkpoint(_PATH, model, opt, sched, epoch=1, step=1, loader=loader)
        _state["tensors"] = load_file(_PATH)
    return _state["tensors"]


def one_input(data: bytes) -> None:
    from dlx.train import load_checkpoint

    if not write_input(data, _PATH, "dlx-checkpoint", lambda _: _real_tensors()):
        return
    model, opt, sched, loader = _objects()
    try:
        load_checkpoint(_PATH, model, opt, sched, loader=loader)
    except ValueError:  # CheckpointError and SafetensorsError are ValueErrors
        return


if __name__ == "__main__":
    main(one_input, MODULES)
