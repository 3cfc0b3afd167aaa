"""``python -m dlx train | evaluate | summary`` through ``main([...])``."""

from __future__ import annotations

import pytest

import dlx
from dlx.__main__ import main
from dlx.train import _cli


def test_cli_train_evaluate_summary(tmp_path, capsys):
    out = tmp_path / "digits.safetensors"
    rc = main(["train", "--model", "mlp", "--epochs", "2", "--output", str(out), "--quiet"])
    assert rc == 0
    assert out.exists()
    printed = capsys.readouterr().out
    assert "training mlp on digits: 1438 train / 359 test samples" in printed
    assert "test accuracy:" in printed
    assert f"saved model to {out}" in printed
    acc = printed.split("test accuracy: ")[1].split("%")[0]
    assert main(["evaluate", str(out)]) == 0
    assert f"test accuracy: {acc}%" in capsys.readouterr().out  # same split as training
    assert main(["summary", str(out)]) == 0
    table = capsys.readouterr().out
    assert "Linear" in table
    assert "(None, 128)" in table  # shapes from the input shape stored by train
    assert "Total params" in table


def test_cli_train_defaults_reach_97_percent(tmp_path, capsys):
    """The issue's bar for the main job: the default CNN on the embedded digits."""
    out = tmp_path / "d.safetensors"
    assert main(["train", "--output", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "training cnn on digits" in printed
    assert float(printed.split("test accuracy: ")[1].split("%")[0]) >= 97.0


def test_cli_train_mlp_defaults_reach_95_percent(tmp_path, capsys):
    out = tmp_path / "m.safetensors"
    assert main(["train", "--model", "mlp", "--output", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert float(printed.split("test accuracy: ")[1].split("%")[0]) >= 95.0


@pytest.mark.parametrize("opt", ["sgd", "rmsprop"])
def test_cli_train_options(tmp_path, capsys, opt):
    out = tmp_path / "o.safetensors"
    rc = main(
        [
            "train",
            "--model",
            "mlp",
            "--epochs",
            "1",
            "--optimizer",
            opt,
            "--lr",
            "0.01",
            "--batch-size",
            "64",
            "--seed",
            "3",
            "--threads",
            "1",
            "--output",
            str(out),
        ]
    )
    assert rc == 0
    captured = capsys.readouterr()
    assert f"{opt}, 1 threads" in captured.out
    assert "epoch 1/1" in captured.err  # progress on stderr


def test_cli_errors(tmp_path, capsys):
    assert main(["train", "--dataset", "mnist", "--output", str(tmp_path / "x")]) == 2
    assert "--data DIR" in capsys.readouterr().err
    assert main(["train", "--dataset", "mnist", "--data", str(tmp_path), "--model", "mlp"]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "missing.safetensors")]) == 2
    assert main(["summary", str(tmp_path / "missing.safetensors")]) == 2
    with pytest.raises(SystemExit):
        main(["train", "--model", "resnet"])


def test_cli_cnn_builds_for_small_and_large_images():
    model = _cli.build_model("cnn", (1, 8, 8), 10)
    assert model(dlx.randn(2, 1, 8, 8)).shape == (2, 10)
    model = _cli.build_model("cnn", (3, 32, 32), 10)
    assert model(dlx.randn(2, 3, 32, 32)).shape == (2, 10)


def test_cli_summary_input_shape_option(tmp_path, capsys):
    path = tmp_path / "m.safetensors"
    dlx.save(_cli.build_model("mlp", (1, 8, 8), 10), path)  # no stored input shape
    assert main(["summary", str(path)]) == 0
    assert "--input-shape" in capsys.readouterr().out
    assert main(["summary", str(path), "--input-shape", "1,8,8"]) == 0
    assert "Total params" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["summary", str(path), "--input-shape", "1,x"])
