"""fit's progress display uses tqdm when it is installed (the test extra has it)."""

from __future__ import annotations

import pytest

from dlx.train.progress import Progress


def test_progress_uses_tqdm_when_installed(capsys):
    pytest.importorskip("tqdm.auto", reason="tqdm is not installed")
    bar = Progress(3, "epoch 1/1", verbose=1)
    assert bar._bar is not None  # a tqdm bar, not the plain fallback line
    for _ in range(3):
        bar.update(16, 0.5)
    bar.close("loss 0.5000")
    err = capsys.readouterr().err
    assert "epoch 1/1" in err
    assert "3/3" in err


def test_progress_is_silent_at_verbose_0(capsys):
    bar = Progress(3, "epoch 1/1", verbose=0)
    bar.update(16, 0.5)
    bar.close("loss 0.5000")
    assert capsys.readouterr().err == ""
