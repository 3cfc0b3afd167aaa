"""Hostile and damaged files: FIFOs and devices, torn state dicts, corrupt checkpoint
metadata, temporaries left by killed writers."""

from __future__ import annotations

import json
import math
import os
import threading
import time

import numpy as np
import pytest
from train_testing import mlp

import dlx
import dlx.optim
from dlx import nn
from dlx.data._formats import read_cifar_batches, read_idx
from dlx.io import load_file, read_metadata, save_file
from dlx.train import CheckpointError, load_checkpoint, save_checkpoint


def _no_hang(fn, fifo=None, timeout=10.0):
    """Run ``fn()`` in a thread; if it is still blocked after ``timeout``, unblock the FIFO
    (open its write end) and fail: a reader must never wait on a named pipe."""
    box: dict[str, BaseException | object] = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in the test's thread
            box["error"] = exc

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        if fifo is not None:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
        t.join(5)
        pytest.fail(f"{fn} blocked for {timeout} s")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box.get("value")


READERS = {
    "load_file": lambda p: load_file(p),
    "load_file_mmap": lambda p: load_file(p, mmap=True),
    "read_metadata": read_metadata,
    "dlx.load": dlx.load,
    "load_state_dict_file": lambda p: dlx.load_state_dict_file(p, nn.Linear(2, 2)),
    "load_checkpoint": lambda p: load_checkpoint(p, nn.Linear(2, 2)),
    "read_idx": lambda p: read_idx(os.fspath(p), 3),
    "read_idx_gz": lambda p: read_idx(os.fspath(p) + ".gz", 3),
    "read_cifar_batches": lambda p: read_cifar_batches([os.fspath(p)]),
}


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("via_symlink", [False, True])
def test_readers_refuse_a_fifo_without_blocking(tmp_path, reader, via_symlink):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    os.mkfifo(tmp_path / "pipe.gz")
    path = fifo
    if via_symlink:
        path = tmp_path / "link"
        os.symlink(fifo, path)
        os.symlink(tmp_path / "pipe.gz", tmp_path / "link.gz")
    with pytest.raises(ValueError, match=r"must be a regular file, got a FIFO \(named pipe\)"):
        _no_hang(lambda: READERS[reader](path), fifo)


@pytest.mark.parametrize("reader", ["load_file", "read_metadata", "dlx.load", "read_cifar_batches"])
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
def test_readers_refuse_character_devices(reader, device):
    if not os.path.exists(device):
        pytest.skip(f"{device} does not exist here")
    with pytest.raises(ValueError, match="must be a regular file, got a character device"):
        _no_hang(lambda: READERS[reader](device))


def test_readers_refuse_a_directory(tmp_path):
    with pytest.raises(IsADirectoryError):
        load_file(tmp_path)


def test_symlinks_to_regular_files_still_work(tmp_path):
    save_file({"w": np.arange(6, dtype=np.float32)}, tmp_path / "real.safetensors")
    os.symlink(tmp_path / "real.safetensors", tmp_path / "link.safetensors")
    for mmap in (False, True):
        got = load_file(tmp_path / "link.safetensors", mmap=mmap)
        np.testing.assert_array_equal(got["w"], np.arange(6))
    assert not load_file(tmp_path / "link.safetensors", mmap=True)["w"].flags.writeable


# -- load_state_dict: all or nothing -------------------------------------------------------
def _model():
    dlx.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def _snapshot(model):
    return {k: np.array(v, copy=True) for k, v in model.state_dict().items()}


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("2.weight", np.array([["a", "b", "c", "d"]] * 2), "expected a real number array"),
        ("2.weight", np.ones((2, 4), np.complex64), "expected a real number array"),
        ("2.weight", np.ones((4, 2)), r"size mismatch for 2.weight"),
        ("2.bias", [object(), object()], "bad value for 2.bias|cannot read"),
        ("1.num_batches_tracked", np.array(np.nan), "NaN or infinity"),
        ("1.num_batches_tracked", np.array(1e30), "do not fit a tensor of dtype int64"),
        ("1.num_batches_tracked", np.array(2**64 - 1, np.uint64), "do not fit"),
    ],
)
def test_load_state_dict_changes_nothing_when_any_entry_is_bad(key, value, match):
    model = _model()
    before = _snapshot(model)
    sd = {k: np.full_like(v, 7) for k, v in before.items()}  # every good entry differs
    sd[key] = value
    with pytest.raises(nn.StateDictError, match=match):
        model.load_state_dict(sd)
    for k, v in _snapshot(model).items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)


def test_load_state_dict_still_converts_dtypes():
    model = _model()
    sd = {k: np.asarray(v, dtype=np.float64) + 1 for k, v in _snapshot(model).items()}
    sd["1.num_batches_tracked"] = np.array(3.0)
    model.load_state_dict(sd)
    assert model[0].weight.dtype == np.float32
    np.testing.assert_allclose(model[0].weight.numpy(), sd["0.weight"], rtol=1e-6)
    assert int(np.asarray(model[1].num_batches_tracked)) == 3


# -- corrupt checkpoint metadata -----------------------------------------------------------
def _checkpoint(tmp_path):
    model = mlp(seed=0, noise=True)
    opt = dlx.optim.Adam(model.parameters(), lr=0.01)
    sched = dlx.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    loader = dlx.data.DataLoader(dlx.data.TensorDataset(np.zeros((4, 2))), batch_size=2)
    path = tmp_path / "good.safetensors"
    save_checkpoint(path, model, opt, sched, epoch=2, step=5, loader=loader, extra={"k": 1})
    return path, model, opt, sched, loader


def _rewrite(path, out, **changes):
    """A copy of checkpoint ``path`` with top-level metadata fields replaced (or deleted)."""
    meta = json.loads(read_metadata(path)["dlx-checkpoint"])
    for k, v in changes.items():
        if v is _DELETE:
            meta.pop(k, None)
        else:
            meta[k] = v
    save_file(load_file(path), out, metadata={"dlx-checkpoint": json.dumps(meta)})
    return out


_DELETE = object()
_BAD_FIELDS = [
    ("rng", [], "'rng'"),
    ("rng", {"dlx": "PCG64"}, "'rng.dlx'"),
    ("rng", {"dlx": {"bit_generator": "PCG64", "state": "x"}}, "'rng.dlx'"),
    ("rng", {"dlx": {"bit_generator": "PCG64", "state": {"state": []}}}, "'rng.dlx'"),
    ("rng", {"numpy": {"state": {"key": [1, 2], "pos": 0}}}, "'rng.numpy'"),
    ("rng", {"numpy": []}, "'rng.numpy'"),
    ("extra", [1], "'extra'"),
    ("extra", {"history": []}, "'extra.history'"),
    ("extra", {"callbacks": [1]}, "'extra.callbacks'"),
    ("epoch", -1, "'epoch'"),
    ("epoch", "3", "'epoch'"),
    ("epoch", _DELETE, "'epoch'"),
    ("step", 1.5, "'step'"),
    ("optimizer", [], "'optimizer'"),
    ("optimizer", {"__dict__": 5}, "'optimizer'"),
    ("optimizer", {"__dict__": [["param_groups", {"__tensor__": "nope"}]]}, "tensor 'nope'"),
    ("optimizer", {"__dict__": [["param_groups", []], ["state", []]]}, "'optimizer.state'"),
    ("scheduler", {"step": 5}, "'scheduler'"),
    ("scheduler", {"base_lrs": [math.nan]}, "'scheduler.base_lrs'"),
    ("scheduler", [], "'scheduler'"),
    ("loader", {"seed": "x", "epoch": 0}, "'loader'"),
    ("loader", {}, "'loader'"),
]


@pytest.mark.parametrize(("field", "value", "match"), _BAD_FIELDS)
def test_corrupt_checkpoint_field_raises_checkpoint_error_naming_it(tmp_path, field, value, match):
    path, _, _, _, loader = _checkpoint(tmp_path)
    bad = _rewrite(path, tmp_path / "bad.safetensors", **{field: value})
    model2 = mlp(seed=1, noise=True)
    before = _snapshot(model2)
    opt2 = dlx.optim.Adam(model2.parameters(), lr=0.01)
    sched2 = dlx.optim.lr_scheduler.StepLR(opt2, step_size=1, gamma=0.5)
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(bad, model2, opt2, sched2, loader=loader)
    if field in ("rng", "extra", "epoch", "step", "optimizer"):  # checked before anything
        for k, v in _snapshot(model2).items():
            np.testing.assert_array_equal(v, before[k], err_msg=k)


def test_checkpoint_error_is_a_value_error():
    assert issubclass(CheckpointError, ValueError)


def _with_lr(path, out, lr):
    meta = json.loads(read_metadata(path)["dlx-checkpoint"])
    pairs = dict(meta["optimizer"]["__dict__"])
    group = dict(pairs["param_groups"][0]["__dict__"])
    group["lr"] = lr
    pairs["param_groups"] = [{"__dict__": [[k, v] for k, v in group.items()]}]
    meta["optimizer"] = {"__dict__": [[k, v] for k, v in pairs.items()]}
    save_file(load_file(path), out, metadata={"dlx-checkpoint": json.dumps(meta, allow_nan=True)})
    return out


@pytest.mark.parametrize("lr", [math.nan, -0.1, math.inf, "fast"])
def test_restored_hyper_parameters_are_validated(tmp_path, lr):
    path, model, _, _, _ = _checkpoint(tmp_path)
    bad = _with_lr(path, tmp_path / "lr.safetensors", lr)
    opt = dlx.optim.Adam(model.parameters(), lr=0.01)
    with pytest.raises(CheckpointError, match=r"param group 0 has an invalid hyper-parameter.*lr"):
        load_checkpoint(bad, model, opt)
    assert opt.param_groups[0]["lr"] == 0.01
    load_checkpoint(bad, model, opt, validate_hparams=False)  # a deliberate override
    got = opt.param_groups[0]["lr"]
    assert got == lr or (isinstance(got, float) and math.isnan(got))


def test_restored_learning_rate_may_be_zero(tmp_path):
    """A schedule may end at lr = 0; that checkpoint must still load."""
    path, model, _, _, _ = _checkpoint(tmp_path)
    zero = _with_lr(path, tmp_path / "zero.safetensors", 0.0)
    opt = dlx.optim.Adam(model.parameters(), lr=0.01)
    load_checkpoint(zero, model, opt)
    assert opt.param_groups[0]["lr"] == 0.0


def test_optimizer_load_state_dict_validates_like_the_constructor():
    model = mlp(seed=0)
    opt = dlx.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sd = opt.state_dict()
    sd["param_groups"][0]["momentum"] = -1.0
    with pytest.raises(ValueError, match="momentum"):
        opt.load_state_dict(sd)
    assert opt.param_groups[0]["momentum"] == 0.9
    sd["param_groups"][0]["momentum"] = 0.5
    del sd["param_groups"][0]["nesterov"]
    with pytest.raises(ValueError, match="lacks the hyper-parameter"):
        opt.load_state_dict(sd)


# -- orphaned temporaries -----------------------------------------------------------------
def test_successful_save_removes_stale_temporaries_of_the_same_target_only(tmp_path):
    old = time.time() - 3600
    stale = [tmp_path / ".w.safetensors.abcd_123.tmp", tmp_path / ".w.safetensors.zzzzzzzz.tmp"]
    kept = [
        tmp_path / ".other.safetensors.abcd_123.tmp",  # another target
        tmp_path / ".w.safetensors.short.tmp",  # not mkstemp's pattern
        tmp_path / ".w.safetensors.ABCDEFGH.tmp",  # mkstemp never uses upper case
        tmp_path / "w.safetensors.abcd_123.tmp",  # no leading dot
        tmp_path / ".w.safetensors.abcd_123.tmp.bak",
    ]
    for p in stale + kept:
        p.write_bytes(b"x" * 100)
        os.utime(p, (old, old))
    fresh = tmp_path / ".w.safetensors.fresh123.tmp"  # newer than this process: in use
    fresh.write_bytes(b"x")
    folder = tmp_path / ".w.safetensors.dir12345.tmp"
    folder.mkdir()
    os.utime(folder, (old, old))
    link = tmp_path / ".w.safetensors.link1234.tmp"
    os.symlink(tmp_path / "w.safetensors", link)
    save_file({"a": np.zeros(2)}, tmp_path / "w.safetensors")
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in [*kept, fresh, folder])
    assert link.is_symlink()
    assert sorted(load_file(tmp_path / "w.safetensors")) == ["a"]


def test_failed_save_removes_nothing(tmp_path):
    stale = tmp_path / ".w.safetensors.abcd_123.tmp"
    stale.write_bytes(b"x")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    with pytest.raises(TypeError):
        save_file({"a": np.array(["text"])}, tmp_path / "w.safetensors")
    assert stale.exists()
    assert [p.name for p in tmp_path.iterdir()] == [stale.name]


# -- predict / fit / evaluate on degenerate input ------------------------------------------
def _net():
    dlx.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 3))


@pytest.mark.parametrize("batch_size", [0, -1, -256])
def test_predict_refuses_non_positive_batch_sizes(batch_size):
    with pytest.raises(ValueError, match=r"predict: `batch_size` must be a positive int or None"):
        dlx.train.predict(_net(), np.zeros((5, 4), np.float32), batch_size=batch_size)


@pytest.mark.parametrize("batch_size", [1.5, "2", True])
def test_predict_refuses_non_int_batch_sizes(batch_size):
    with pytest.raises(TypeError, match="`batch_size` must be a positive int or None"):
        dlx.train.predict(_net(), np.zeros((5, 4), np.float32), batch_size=batch_size)


@pytest.mark.parametrize("batch_size", [1, 2, 5, 7, None])
def test_predict_row_count_for_any_batch_size(batch_size):
    x = np.random.default_rng(0).random((5, 4)).astype(np.float32)
    out = dlx.train.predict(_net(), x, batch_size=batch_size)
    assert out.shape == (5, 3)
    np.testing.assert_allclose(out, dlx.train.predict(_net(), x, batch_size=None), rtol=1e-6)


@pytest.mark.parametrize("batch_size", [1, 256, None])
def test_predict_on_no_samples_keeps_the_output_shape(batch_size):
    out = dlx.train.predict(_net(), np.zeros((0, 4), np.float32), batch_size=batch_size)
    assert out.shape == (0, 3)
    assert out.dtype == np.float32
    cnn = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Flatten(), nn.Linear(2 * 16, 5))
    assert dlx.train.predict(cnn, np.zeros((0, 1, 4, 4), np.float32)).shape == (0, 5)


def test_predict_refuses_a_scalar():
    with pytest.raises(ValueError, match="`x` must hold samples"):
        dlx.train.predict(_net(), np.float32(1.0))


def test_fit_refuses_an_empty_dataset():
    net = _net()
    opt = dlx.optim.SGD(net.parameters(), lr=0.1)
    empty = (np.zeros((0, 4), np.float32), np.zeros(0, np.int64))
    with pytest.raises(ValueError, match="fit: `train_data` holds no samples"):
        dlx.train.fit(net, nn.CrossEntropyLoss(), opt, empty, verbose=0)
    with pytest.raises(ValueError, match="`train_data` holds no samples"):
        dlx.train.fit(net, nn.CrossEntropyLoss(), opt, dlx.data.TensorDataset(*empty), verbose=0)


def test_evaluate_refuses_an_empty_dataset():
    empty = (np.zeros((0, 4), np.float32), np.zeros(0, np.int64))
    with pytest.raises(ValueError, match="evaluate: `data` holds no samples"):
        dlx.train.evaluate(_net(), nn.CrossEntropyLoss(), empty)
