"""Smoke runs of the sequence and mixture-density examples, with what each demonstrates."""

from __future__ import annotations

import importlib

import pytest
import repo_paths

EXAMPLES = repo_paths.EXAMPLES
pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(), reason="examples/ not in this checkout")


@pytest.fixture
def example(monkeypatch):
    """Import an example script by name (examples/ goes on sys.path for its _common import)."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    return importlib.import_module


def test_lstm_sine_beats_mlp_on_the_same_windows(example, capsys):
    out = example("lstm_sine").main(["--quick"])
    assert out["lstm_mse"] < 0.8 * out["mlp_mse"]
    assert out["mlp_mse"] < 0.1 * out["last_value_mse"]  # both really learned something
    text = capsys.readouterr().out
    assert "LSTM" in text
    assert "MLP" in text


def test_char_lstm_loss_falls_well_below_uniform(example, capsys):
    out = example("char_lstm").main(["--quick"])
    assert out["uniform"] > 5.5  # log2 of the ~57-character vocabulary
    assert out["bits_per_char"] < 0.6 * out["uniform"]
    assert out["bits_per_char"] < out["first_epoch"] - 1.0
    assert out["sample"].startswith("The ")
    assert len(out["sample"]) == 4 + 80
    text = capsys.readouterr().out
    assert "bits/char" in text
    assert "sample (temperature 0.7)" in text


def test_mdn_inverted_sine_beats_a_gaussian_around_the_mse_fit(example, capsys):
    out = example("mdn_inverted_sine").main(["--quick"])
    # the MSE net, read as N(y | f(x), residual variance), vs the mixture: nats per point
    assert out["mdn_nll"] < out["gaussian_nll"] - 0.2
    # the MSE net learns the conditional mean: a large error on a three-valued inverse
    assert out["mse_test"] > 0.03
    # the conditional mean jumps across the gap between branches; the MDN's most probable
    # component stays on the data
    assert out["mse_off_data"] > 0.04
    assert out["mdn_off_data"] < out["mse_off_data"] / 2
    assert "MDN (K=5): test NLL" in capsys.readouterr().out
