"""The command line as a user types it: ``python -m dlx`` (and the ``dlx`` script) in a
subprocess, from a scratch directory."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import dlx
from dlx.__main__ import build_parser
from dlx.io import read_metadata
from dlx.train import _cli

HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def dlx_cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -P -m dlx ARGS`` in ``cwd`` (-P: the checkout never shadows the install)."""
    return subprocess.run(
        [sys.executable, "-P", "-m", "dlx", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_line_error(res: subprocess.CompletedProcess, *fragments: str) -> str:
    """Assert exit status 2 and a single-line message on stderr holding every fragment."""
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    err = res.stderr.strip()
    assert "Traceback" not in err, err
    assert "\n" not in err, err
    for f in fragments:
        assert f in err, (f, err)
    return err


def accuracy(stdout: str) -> str:
    return stdout.split("test accuracy: ")[1].split("%")[0]


def test_train_evaluate_summary_round_trip(tmp_path):
    res = dlx_cli(
        "train", "--model", "mlp", "--epochs", "2", "--seed", "7", "--quiet", cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr
    out = tmp_path / "dlx-digits.safetensors"
    assert f"saved model to {out.name}" in res.stdout
    assert "training mlp on digits: 1438 train / 359 test samples, 2 epochs" in res.stdout
    record = json.loads(read_metadata(out)["dlx.train"])
    assert record["dataset"] == "digits"
    assert record["seed"] == 7
    assert record["test_fraction"] == 0.2
    assert record["epochs"] == 2
    acc = accuracy(res.stdout)
    ev = dlx_cli("evaluate", out.name, cwd=tmp_path)
    assert ev.returncode == 0, ev.stderr
    assert "seed 7 (the split stored in the model file)" in ev.stdout
    assert f"test accuracy: {acc}%" in ev.stdout  # the very samples training never saw
    assert ev.stderr == ""
    summ = dlx_cli("summary", out.name, cwd=tmp_path)
    assert summ.returncode == 0, summ.stderr
    assert "(None, 128)" in summ.stdout  # shapes from the input shape stored by train
    assert "Total params" in summ.stdout


def test_evaluate_seed_override_warns(tmp_path):
    assert (
        dlx_cli(
            "train", "--model", "mlp", "--epochs", "1", "--seed", "7", "--quiet", cwd=tmp_path
        ).returncode
        == 0
    )
    ev = dlx_cli("evaluate", "dlx-digits.safetensors", "--seed", "3", cwd=tmp_path)
    assert ev.returncode == 0, ev.stderr
    assert "warning: --seed 3 differs from the 7 the model was trained with" in ev.stderr
    assert "seed 3 (from the command line)" in ev.stdout


def test_evaluate_file_without_training_record_says_so(tmp_path):
    path = tmp_path / "m.safetensors"
    dlx.save(_cli.build_model("mlp", (1, 8, 8), 10), path, input_shape=(1, 8, 8))
    ev = dlx_cli("evaluate", path.name, cwd=tmp_path)
    assert ev.returncode == 0, ev.stderr
    assert "seed 0 (the default: the file records no training split)" in ev.stdout


def test_existing_output_is_never_replaced_without_overwrite(tmp_path):
    out = tmp_path / "model.safetensors"
    out.write_bytes(b"a model a user wants to keep")
    res = dlx_cli("train", "--epochs", "1", "--output", out.name, "--quiet", cwd=tmp_path)
    one_line_error(res, "model.safetensors' already exists", "--overwrite")
    assert "training" not in res.stdout  # refused before any work
    assert out.read_bytes() == b"a model a user wants to keep"
    res = dlx_cli(
        "train", "--model", "mlp", "--epochs", "1", "--output", out.name, "--overwrite",
        "--quiet", cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert dlx.load(out) is not None


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["train", "--epochs", "0"], ["--epochs: must be a positive int, got '0'"]),
        (["train", "--epochs", "-1"], ["--epochs: must be a positive int, got '-1'"]),
        (["train", "--threads", "0"], ["--threads: must be a positive int, got '0'"]),
        (["train", "--batch-size", "0"], ["--batch-size: must be a positive int"]),
        (["train", "--lr", "nan"], ["--lr: must be a finite number > 0"]),
        (["train", "--test-fraction", "1"], ["--test-fraction: must be a number between 0 and 1"]),
        (["train", "--seed", "-3"], ["--seed: must be an int >= 0"]),
        (["train", "--model", "resnet"], ["--model: invalid choice: 'resnet'"]),
        (["info", "--size", "0"], ["--size: must be an int from 1 to 4096, got '0'"]),
        (["info", "--size", "100000"], ["--size: must be an int from 1 to 4096, got '100000'"]),
        (["train", "--data", "."], ["`--data` is for --dataset mnist, fashion or cifar10"]),
        (["train", "--dataset", "mnist"], ["--dataset mnist needs --data DIR"]),
        (
            ["train", "--dataset", "cifar10", "--data", ".", "--test-fraction", "0.1"],
            ["`--test-fraction` splits the digits"],
        ),
        (["train", "--output", "no-such-dir/m.safetensors"], ["does not exist"]),
        (["train", "--output", "."], ["is a directory"]),
        (["train", "--output", "/proc/m.safetensors"], ["/proc is not writable"]),
        (["evaluate", "missing.safetensors"], ["No such file or directory", "missing"]),
        (["summary", "missing.safetensors"], ["No such file or directory"]),
        (["evaluate", "m.safetensors", "--plot", "/proc/x.png"], ["/proc is not writable"]),
        ([], ["the following arguments are required: COMMAND"]),
    ],
)
def test_user_mistakes_are_one_line_errors(tmp_path, args, fragments):
    if "--plot" in args:
        if not HAVE_MATPLOTLIB:
            pytest.skip("matplotlib is not installed")
        dlx.save(_cli.build_model("mlp", (1, 8, 8), 10), tmp_path / "m.safetensors")
    res = dlx_cli(*args, cwd=tmp_path)
    one_line_error(res, *fragments)
    assert "training" not in res.stdout  # nothing ran, no epochs echoed
    assert not list(tmp_path.glob("*.safetensors.tmp*"))


def test_mnist_directory_without_files_names_the_file(tmp_path):
    res = dlx_cli("train", "--dataset", "mnist", "--data", str(tmp_path), cwd=tmp_path)
    one_line_error(res, "train-images-idx3-ubyte")


def test_help_shows_every_default_and_describes_the_dataset(tmp_path):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        formatter = p._get_formatter()
        for action in p._actions:
            if not action.option_strings or action.nargs == 0:  # positionals and flags
                continue
            text = formatter._expand_help(action)
            assert "default" in text, f"dlx {name} {action.option_strings[0]}: {text!r}"
    res = dlx_cli("train", "--help", cwd=tmp_path)
    assert res.returncode == 0
    flat = " ".join(res.stdout.split())
    assert "digits: the 1,797 8x8 handwritten digits shipped with dlx" in flat
    assert "(default: 20)" in flat  # --epochs
    assert "(default: digits)" in flat


@pytest.mark.skipif(not HAVE_MATPLOTLIB, reason="matplotlib is not installed")
def test_evaluate_plot_writes_a_png(tmp_path):
    assert (
        dlx_cli("train", "--model", "mlp", "--epochs", "1", "--quiet", cwd=tmp_path).returncode == 0
    )
    res = dlx_cli("evaluate", "dlx-digits.safetensors", "--plot", "eval.png", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    png = (tmp_path / "eval.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 20_000  # a drawn figure, not an empty canvas
    assert "wrote eval.png" in res.stdout


def test_console_script_runs(tmp_path):
    script = shutil.which("dlx", path=os.path.dirname(sys.executable))
    if script is None:
        pytest.skip("no `dlx` console script next to this interpreter (reinstall dlx)")
    res = subprocess.run(
        [script, "info", "--size", "64"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert res.returncode == 0, res.stderr
    assert "self-check sgemm 64^3" in res.stdout
    assert "ok" in res.stdout


def test_train_defaults_reach_97_percent(tmp_path):
    """The README's first command: the default CNN on the embedded digits."""
    res = dlx_cli("train", "--quiet", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "training cnn on digits" in res.stdout
    assert float(accuracy(res.stdout)) >= 97.0


def test_train_mlp_defaults_reach_95_percent(tmp_path):
    res = dlx_cli("train", "--model", "mlp", "--quiet", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert float(accuracy(res.stdout)) >= 95.0


@pytest.mark.parametrize("opt", ["sgd", "rmsprop"])
def test_train_options_and_progress(tmp_path, opt):
    res = dlx_cli(
        "train", "--model", "mlp", "--epochs", "1", "--optimizer", opt, "--lr", "0.01",
        "--batch-size", "64", "--seed", "3", "--threads", "1", cwd=tmp_path,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert f"{opt}, 1 threads" in res.stdout
    assert "epoch 1/1" in res.stderr  # progress on stderr


def test_cnn_builds_for_small_and_large_images():
    model = _cli.build_model("cnn", (1, 8, 8), 10)
    assert model(dlx.randn(2, 1, 8, 8)).shape == (2, 10)
    model = _cli.build_model("cnn", (3, 32, 32), 10)
    assert model(dlx.randn(2, 3, 32, 32)).shape == (2, 10)


def test_summary_input_shape_option(tmp_path):
    path = tmp_path / "m.safetensors"
    dlx.save(_cli.build_model("mlp", (1, 8, 8), 10), path)  # no stored input shape
    res = dlx_cli("summary", path.name, cwd=tmp_path)
    assert res.returncode == 0
    assert "--input-shape" in res.stdout
    res = dlx_cli("summary", path.name, "--input-shape", "1,8,8", cwd=tmp_path)
    assert "Total params" in res.stdout
    one_line_error(dlx_cli("summary", path.name, "--input-shape", "1,x", cwd=tmp_path), "1,x")
