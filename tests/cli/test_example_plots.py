"""Every figure the examples, ``History.plot()`` and the evaluation figure draw has a title,
labelled axes that fit inside the image, and legends whose curves look different."""

from __future__ import annotations

import importlib
import itertools
from pathlib import Path

import numpy as np
import pytest
import repo_paths

matplotlib = pytest.importorskip("matplotlib", reason="matplotlib is not installed")
matplotlib.use("Agg")
from matplotlib.figure import Figure

EXAMPLES = repo_paths.EXAMPLES
PLOTTING = [
    "sine_regression",
    "lstm_sine",
    "init_histograms",
    "optimizer_comparison",
    "overfitting_demo",
    "autoencoder_digits",
    "denoising_autoencoder",
    "mdn_inverted_sine",
    "digits_mlp",
    "digits_cnn",
]


def _text(artist) -> str:
    return artist.get_text() if artist is not None else ""


def check_figure(fig: Figure) -> None:
    """The rules a figure worth keeping follows (raises AssertionError naming the rule)."""
    fig.draw_without_rendering()  # runs the layout engine, as savefig will
    axes = [a for a in fig.axes if a.get_visible() and a.axison]
    titles = [_text(getattr(fig, "_suptitle", None))] + [a.get_title() for a in axes]
    assert any(titles), "the figure has no title"
    drawn = [  # axes with a scale: curves, bars, dots, heat maps (not colour bars, thumbnails)
        a
        for a in axes
        if not hasattr(a, "_colorbar")
        and (a.lines or a.collections or a.patches or (a.images and len(a.get_xticks())))
    ]
    if drawn:
        xlabels = [_text(getattr(fig, "_supxlabel", None))] + [a.get_xlabel() for a in drawn]
        ylabels = [_text(getattr(fig, "_supylabel", None))] + [a.get_ylabel() for a in drawn]
        assert any(xlabels), "no x-axis label"
        assert any(ylabels), "no y-axis label"
    box = fig.bbox
    for a in axes:
        for label in (a.xaxis.label, a.yaxis.label, a.title):
            if label.get_text():
                ext, name = label.get_window_extent(), repr(label.get_text())
                inside = (
                    ext.x0 >= box.x0 - 1
                    and ext.y0 >= box.y0 - 1
                    and ext.x1 <= box.x1 + 1
                    and ext.y1 <= box.y1 + 1
                )
                assert inside, f"{name} is cut off"
        labelled = [ln for ln in a.lines if ln.get_label() and not ln.get_label().startswith("_")]
        if len(labelled) >= 2:  # one legend may serve panels that repeat the same curves
            assert any(b.get_legend() for b in axes) or fig.legends, "curves without a legend"
            looks = [
                (matplotlib.colors.to_hex(ln.get_color()), ln.get_linestyle(), ln.get_marker())
                for ln in labelled
            ]
            for (i, p), (j, q) in itertools.combinations(enumerate(looks), 2):
                assert p != q, (
                    f"{labelled[i].get_label()!r} and {labelled[j].get_label()!r} look alike"
                )


@pytest.fixture
def saved_figures(monkeypatch):
    """Record (and check) every Figure.savefig call; the files are still written."""
    seen: list[str] = []
    original = Figure.savefig

    def savefig(self, fname, *args, **kwargs):
        check_figure(self)
        seen.append(str(fname))
        return original(self, fname, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    return seen


@pytest.mark.skipif(not EXAMPLES.is_dir(), reason="examples/ not in this checkout")
@pytest.mark.parametrize("name", PLOTTING)
def test_example_figures_are_complete(name, tmp_path, monkeypatch, saved_figures):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    importlib.import_module(name).main(["--quick", "--out", str(tmp_path)])
    assert saved_figures, f"{name} --out wrote no figure"
    for path in saved_figures:
        assert Path(path).read_bytes().startswith(b"\x89PNG"), path


def test_history_plot_is_complete(tmp_path, saved_figures):
    from dlx.train import History

    h = History()
    for e in range(5):
        h.append(e, {"loss": 1 / (e + 1), "val_loss": 1.2 / (e + 1), "accuracy": 0.5 + e / 10,
                     "val_accuracy": 0.45 + e / 10, "lr": 0.1})  # fmt: skip
    axes = h.plot()
    assert [a.get_xlabel() for a in axes] == ["epoch", "epoch"]
    assert axes[1].get_ylabel() == "accuracy (fraction correct)"
    axes[0].figure.savefig(tmp_path / "h.png")
    with pytest.raises(KeyError, match="no series"):
        h.plot(keys=["nope"])


def test_evaluation_figure_is_complete(tmp_path, saved_figures):
    from dlx.train import confusion_matrix
    from dlx.train.plots import save_evaluation_figure

    rng = np.random.default_rng(0)
    x = rng.random((50, 1, 8, 8))
    y = rng.integers(0, 10, 50)
    pred = np.where(rng.random(50) < 0.8, y, (y + 1) % 10)
    save_evaluation_figure(tmp_path / "e.png", x, y, pred, title="test")
    assert confusion_matrix(y, pred).trace() == int((y == pred).sum())


def test_confusion_matrix_counts_and_checks():
    from dlx.train import confusion_matrix

    cm = confusion_matrix([0, 1, 2, 2], [0, 2, 2, 2], num_classes=4)
    np.testing.assert_array_equal(cm[:3, :3], [[1, 0, 0], [0, 0, 1], [0, 0, 2]])
    assert cm.shape == (4, 4)
    with pytest.raises(ValueError, match="same length"):
        confusion_matrix([0, 1], [0])
    with pytest.raises(ValueError, match="too small"):
        confusion_matrix([0, 5], [0, 1], num_classes=3)
    with pytest.raises(ValueError, match="non-negative class indices"):
        confusion_matrix([0.5, 1.0], [0, 1])
