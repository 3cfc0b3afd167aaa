"""Training checkpoints: save/load round trip and exact resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
from train_testing import cross_entropy, digits, mlp, weights

import dlx
import dlx.optim
from dlx.io import SafetensorsError, load_file, read_metadata, save_file
from dlx.train import EarlyStopping, ModelCheckpoint, fit, load_checkpoint, save_checkpoint


def _setup(lr=0.05):
    model = mlp(seed=0, noise=True)
    opt = dlx.optim.Adam(model.parameters(), lr=lr)
    sched = dlx.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
    return model, opt, sched


LRS = {"adam": 0.01, "sgd": 0.05, "adamax": 0.01, "rprop": 0.001, "asgd": 0.05}


@pytest.mark.parametrize("optimizer", list(LRS))
def test_resume_is_identical_to_uninterrupted_run(tmp_path, optimizer):
    x, y = digits(120)
    data = {
        "epochs": 4,
        "batch_size": 16,
        "validation_data": (x[:30], y[:30]),
        "verbose": 0,
        "seed": 3,
    }

    def build():
        model = mlp(seed=0, noise=True)  # noise draws from dlx's default generator
        lr = LRS[optimizer]
        if optimizer == "adam":
            opt = dlx.optim.Adam(model.parameters(), lr=lr)
        elif optimizer == "sgd":
            opt = dlx.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        elif optimizer == "adamax":
            opt = dlx.optim.Adamax(model.parameters(), lr=lr, weight_decay=1e-3)
        elif optimizer == "rprop":
            opt = dlx.optim.Rprop(model.parameters(), lr=lr, step_sizes=(1e-6, 0.1))
        else:  # averaging from the start: ax, eta and mu all move
            opt = dlx.optim.ASGD(model.parameters(), lr=lr, lambd=1e-2, t0=0)
        return model, opt, dlx.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)

    model, opt, sched = build()
    straight = fit(model, cross_entropy, opt, (x, y), scheduler=sched, **data)
    expected = weights(model)

    path = tmp_path / "ckpt-{epoch}.safetensors"
    model, opt, sched = build()
    stopper = EarlyStopping(monitor="val_loss", patience=10)
    first = fit(
        model,
        cross_entropy,
        opt,
        (x, y),
        scheduler=sched,
        callbacks=[ModelCheckpoint(path, training_state=True), stopper],
        **{**data, "epochs": 2},
    )
    assert len(first) == 2
    dlx.manual_seed(123)  # scramble the RNG: the checkpoint must restore it
    np.random.seed(5)  # noqa: NPY002 - the checkpoint restores NumPy's global state too
    model, opt, sched = build()
    resumed = fit(
        model,
        cross_entropy,
        opt,
        (x, y),
        scheduler=sched,
        callbacks=[stopper],
        resume_from=tmp_path / "ckpt-2.safetensors",
        **data,
    )
    for k, v in weights(model).items():
        np.testing.assert_array_equal(v, expected[k], err_msg=k)
    assert resumed.epoch == [0, 1, 2, 3]
    assert resumed.history == straight.history
    assert opt.param_groups[0]["lr"] == pytest.approx(LRS[optimizer] * 0.7**4)
    if optimizer == "asgd":
        assert opt.state_dict()["state"][0]["mu"] < 1


def test_checkpoint_round_trip_restores_everything(tmp_path):
    x, y = digits(40)
    model, opt, sched = _setup()
    fit(model, cross_entropy, opt, (x, y), epochs=2, scheduler=sched, verbose=0)
    dlx.manual_seed(7)
    rng_draw = dlx.randn(3).numpy()
    dlx.manual_seed(7)
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, model, opt, sched, epoch=2, step=6, extra={"note": "hi"})
    meta = json.loads(read_metadata(path)["dlx-checkpoint"])
    assert meta["format"] == "dlx-checkpoint"
    assert meta["epoch"] == 2
    assert meta["step"] == 6

    model2, opt2, sched2 = _setup()
    dlx.manual_seed(99)
    info = load_checkpoint(path, model2, opt2, sched2)
    assert info["extra"] == {"note": "hi"}
    np.testing.assert_array_equal(dlx.randn(3).numpy(), rng_draw)
    for k, v in weights(model).items():
        np.testing.assert_array_equal(weights(model2)[k], v)
    sd, sd2 = opt.state_dict(), opt2.state_dict()
    assert sd["param_groups"] == sd2["param_groups"]
    for i, st in sd["state"].items():
        for name, val in st.items():
            np.testing.assert_array_equal(sd2["state"][i][name], val)
    assert sched2.state_dict() == sched.state_dict()
    assert all(k.startswith(("model.", "optimizer.")) for k in load_file(path))


def test_load_checkpoint_rejects_other_files(tmp_path):
    model = mlp()
    save_file(model.state_dict(), tmp_path / "w.safetensors")
    with pytest.raises(ValueError, match="not a dlx training checkpoint"):
        load_checkpoint(tmp_path / "w.safetensors", model)
    bad = {"dlx-checkpoint": json.dumps({"format": "dlx-checkpoint", "version": 99})}
    save_file({}, tmp_path / "v.safetensors", metadata=bad)
    with pytest.raises(ValueError, match="unsupported checkpoint version 99"):
        load_checkpoint(tmp_path / "v.safetensors", model)
    save_file({}, tmp_path / "j.safetensors", metadata={"dlx-checkpoint": "{nope"})
    with pytest.raises(SafetensorsError, match="not valid JSON"):
        load_checkpoint(tmp_path / "j.safetensors", model)
    meta = {
        "format": "dlx-checkpoint",
        "version": 1,
        "epoch": 0,
        "step": 0,
        "rng": {"dlx": {"bit_generator": "os.system", "state": {}}},
    }
    save_file({}, tmp_path / "r.safetensors", metadata={"dlx-checkpoint": json.dumps(meta)})
    with pytest.raises(ValueError, match="unknown bit generator"):
        load_checkpoint(tmp_path / "r.safetensors")
    (tmp_path / "t.safetensors").write_bytes(b"\x10\x00")
    with pytest.raises(SafetensorsError):
        load_checkpoint(tmp_path / "t.safetensors", model)


def test_checkpoint_shape_mismatch_names_key(tmp_path):
    model, opt, _sched = _setup()
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, model, opt)
    other = dlx.nn.Sequential(dlx.nn.Linear(64, 8), dlx.nn.Linear(8, 10))
    with pytest.raises(dlx.nn.StateDictError, match=r"0.weight"):
        load_checkpoint(path, other)
