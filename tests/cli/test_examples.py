"""The example scripts in examples/: a quick smoke run of each, plus what they demonstrate."""

from __future__ import annotations

import importlib
import struct
from pathlib import Path

import numpy as np
import pytest
import repo_paths

EXAMPLES = repo_paths.EXAMPLES
pytestmark = pytest.mark.skipif(not EXAMPLES.is_dir(), reason="examples/ not in this checkout")


@pytest.fixture
def example(monkeypatch):
    """Import an example script by name (examples/ goes on sys.path for its _common import)."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    return importlib.import_module


def _idx(data: np.ndarray) -> bytes:
    return bytes([0, 0, 8, data.ndim]) + struct.pack(f">{data.ndim}I", *data.shape) + data.tobytes()


@pytest.fixture
def mnist_dir(tmp_path) -> Path:
    """Tiny fake MNIST (IDX files): 64 train and 64 test images."""
    rng = np.random.default_rng(0)
    for prefix in ("train", "t10k"):
        images = rng.integers(0, 256, (64, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, 64, dtype=np.uint8)
        (tmp_path / f"{prefix}-images-idx3-ubyte").write_bytes(_idx(images))
        (tmp_path / f"{prefix}-labels-idx1-ubyte").write_bytes(_idx(labels))
    return tmp_path


@pytest.fixture
def cifar_dir(tmp_path) -> Path:
    """Tiny fake CIFAR-10 binary batches: 4 records per file."""
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
    for name in names:
        labels = rng.integers(0, 10, (4, 1), dtype=np.uint8)
        images = rng.integers(0, 256, (4, 3 * 32 * 32), dtype=np.uint8)
        (tmp_path / name).write_bytes(np.concatenate([labels, images], axis=1).tobytes())
    return tmp_path


# ---------------------------------------------------------------------------- basics


def test_xor_hand_set_is_exact_and_learned_net_separates(example, capsys):
    out = example("xor").main(["--quick"])
    np.testing.assert_array_equal(out["hand_set"], [0, 1, 1, 0])
    assert ((out["learned"] > 0.5) == [False, True, True, False]).all()
    assert "[0.0, 1.0, 1.0, 0.0]" in capsys.readouterr().out


def test_sine_regression_beats_constant_predictor(example):
    out = example("sine_regression").main(["--quick"])
    assert out["test_mse"] < 0.2 * out["baseline"]


def test_digits_mlp_learns(example):
    assert example("digits_mlp").main(["--quick"])["accuracy"] > 0.5


def test_digits_cnn_runs(example, capsys):
    out = example("digits_cnn").main(["--quick"])
    assert 0.0 <= out["accuracy"] <= 1.0
    assert "Total params: 9,962" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["mnist_logistic", "mnist_mlp", "mnist_cnn"])
def test_mnist_examples_run_on_idx_files(example, mnist_dir, name, capsys):
    out = example(name).main(["--quick", "--data", str(mnist_dir)])
    assert np.isfinite(out["loss"])
    assert "test accuracy" in capsys.readouterr().out


def test_mnist_example_needs_data_dir(example, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:  # one line naming the file, not a traceback
        example("mnist_logistic").main(["--quick", "--data", str(tmp_path)])
    assert info.value.code == 2
    assert "train-images-idx3-ubyte" in capsys.readouterr().err


def test_cifar10_cnn_runs_on_binary_batches(example, cifar_dir, capsys):
    out = example("cifar10_cnn").main(["--quick", "--data", str(cifar_dir)])
    assert np.isfinite(out["loss"])
    assert "BatchNorm2d" in capsys.readouterr().out


def test_vgg16_summary_parameter_count(example, capsys):
    assert example("vgg16_summary").main([]) == 138_357_544
    assert "Total params: 138,357,544" in capsys.readouterr().out


def test_optimizer_comparison_all_optimizers_reduce_loss(example, tmp_path):
    pytest.importorskip("matplotlib")
    curves = example("optimizer_comparison").main(["--quick", "--out", str(tmp_path)])
    assert len(curves) >= 6
    for name, c in curves.items():
        assert c[-1] < c[0], name
    assert (tmp_path / "optimizer_comparison.png").stat().st_size > 0


def test_init_histograms_small_init_vanishes_large_saturates(example):
    stds = example("init_histograms").main(["--quick"])
    assert stds["too small N(0, 0.01)"][-1] < 1e-3
    assert stds["too large N(0, 1)"][-1] > 0.85  # tanh saturated at +-1
    assert 0.2 < stds["Xavier normal"][-1] < 0.8


def test_overfitting_demo_runs_all_variants(example):
    results = example("overfitting_demo").main(["--quick"])
    assert set(results) == {"none", "dropout 0.5", "weight decay 1e-3", "early stopping"}
    for r in results.values():
        assert 0.0 <= r["val_acc"] <= 1.0


# ---------------------------------------------------------------------------- autoencoders


def test_autoencoder_beats_mean_image_baseline(example):
    out = example("autoencoder_digits").main(["--quick"])
    assert out["mse"] < 0.6 * out["baseline"]


def test_stacked_autoencoder_pretrains_and_classifier_learns(example, capsys):
    out = example("stacked_autoencoder").main(["--quick"])
    assert out["pretrained"] > 0.3  # 10 classes: chance is 0.1
    assert out["random"] >= 0.0
    assert "pretrained layer 2: 48 -> 32" in capsys.readouterr().out


def test_denoising_autoencoder_removes_noise(example, tmp_path):
    pytest.importorskip("matplotlib")
    out = example("denoising_autoencoder").main(["--quick", "--out", str(tmp_path)])
    for name in ("gaussian", "masking"):
        assert out[name]["denoised_mse"] < 0.7 * out[name]["noisy_mse"], name
    assert (tmp_path / "denoising_autoencoder.png").is_file()
