"""dlx.train: fit / evaluate / predict, History, callbacks, metrics, interruption."""

from __future__ import annotations

import csv
import os
import signal
import sys

import numpy as np
import pytest
from train_testing import cross_entropy, digits, mlp, weights

import dlx
import dlx.optim
from dlx.data import DataLoader, TensorDataset
from dlx.train import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LRSchedulerCallback,
    ModelCheckpoint,
    accuracy,
    evaluate,
    fit,
    get_metric,
    predict,
    register_metric,
)


class Counter(Callback):
    def __init__(self):
        self.events = []

    def on_train_begin(self, logs=None):
        self.events.append("train_begin")

    def on_train_end(self, logs=None):
        self.events.append("train_end")

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(("epoch_begin", epoch))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("epoch_end", epoch))

    def on_batch_end(self, batch, logs=None):
        self.events.append(("batch", batch, logs["size"]))


class Scripted(Callback):
    """Writes a scripted ``val_fake`` into the logs and records the weights every epoch."""

    def __init__(self, values):
        self.values, self.snapshots = values, []

    def on_epoch_end(self, epoch, logs=None):
        logs["val_fake"] = self.values[epoch]
        self.snapshots.append(weights(self.state.model))


def _adam(model, lr=1e-2):
    return dlx.optim.Adam(model.parameters(), lr=lr)


def test_fit_history_contents():
    x, y = digits(200)
    model = mlp()
    h = fit(
        model,
        cross_entropy,
        _adam(model),
        (x[:150], y[:150]),
        epochs=3,
        validation_data=(x[150:], y[150:]),
        verbose=0,
    )
    assert set(h.history) == {"loss", "accuracy", "val_loss", "val_accuracy", "lr"}
    assert h.epoch == [0, 1, 2]
    assert len(h) == 3
    assert all(len(v) == 3 for v in h.history.values())
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert not h.interrupted
    assert not h.stopped_early
    assert h["lr"] == [0.01] * 3
    assert "History(epochs=3" in repr(h)


@pytest.mark.parametrize(("batch_size", "steps"), [(1, 40), (16, 3), (None, 1), (40, 1), (100, 1)])
def test_fit_batch_modes(batch_size, steps):
    x, y = digits(40)
    model = mlp()
    counter = Counter()
    h = fit(
        model,
        cross_entropy,
        _adam(model),
        (x, y),
        epochs=2,
        batch_size=batch_size,
        callbacks=[counter],
        verbose=0,
    )
    batches = [e for e in counter.events if e[0] == "batch"]
    assert len(batches) == 2 * steps
    assert sum(e[2] for e in batches) == 80
    assert np.isfinite(h["loss"]).all()


def test_fit_callback_order():
    x, y = digits(20)
    model = mlp()
    counter = Counter()
    fit(
        model,
        cross_entropy,
        _adam(model),
        (x, y),
        epochs=2,
        batch_size=10,
        callbacks=[counter],
        verbose=0,
    )
    assert counter.events == [
        "train_begin",
        ("epoch_begin", 0),
        ("batch", 0, 10),
        ("batch", 1, 10),
        ("epoch_end", 0),
        ("epoch_begin", 1),
        ("batch", 0, 10),
        ("batch", 1, 10),
        ("epoch_end", 1),
        "train_end",
    ]


def test_fit_validation_split_and_dataset_inputs():
    x, y = digits(100)
    model = mlp()
    h = fit(model, cross_entropy, _adam(model), (x, y), epochs=1, validation_split=0.2, verbose=0)
    assert "val_loss" in h.history
    h = fit(
        model,
        cross_entropy,
        _adam(model),
        TensorDataset(x, y),
        epochs=1,
        validation_split=0.25,
        verbose=0,
    )
    assert "val_accuracy" in h.history
    loader = DataLoader(TensorDataset(x, y), batch_size=25, shuffle=True, generator=1)
    h = fit(
        model,
        cross_entropy,
        _adam(model),
        loader,
        epochs=1,
        validation_data=DataLoader(TensorDataset(x, y), batch_size=50),
        verbose=0,
    )
    assert len(h) == 1
    with pytest.raises(ValueError, match="not both"):
        fit(
            model,
            cross_entropy,
            _adam(model),
            (x, y),
            validation_data=(x, y),
            validation_split=0.1,
            verbose=0,
        )
    with pytest.raises(TypeError, match="train_data"):
        fit(model, cross_entropy, _adam(model), 3, verbose=0)


def test_fit_learns_digits():
    x, y = digits(600)
    model = mlp(hidden=64)
    fit(model, cross_entropy, _adam(model), (x[:500], y[:500]), epochs=8, verbose=0)
    assert evaluate(model, cross_entropy, (x[500:], y[500:]))["accuracy"] > 0.75


def test_fit_lbfgs_full_batch():
    x, y = digits(60)
    model = mlp()
    opt = dlx.optim.LBFGS(model.parameters(), lr=1, max_iter=5)
    h = fit(model, cross_entropy, opt, (x, y), epochs=3, batch_size=None, verbose=0)
    assert h["loss"][-1] < h["loss"][0]


def test_evaluate_and_predict_use_eval_mode_without_grad():
    x, y = digits(30)
    model = mlp()
    model.train()
    out = predict(model, x, batch_size=7)
    assert out.shape == (30, 10)
    assert model.training
    np.testing.assert_allclose(out, model(dlx.Tensor(x)).numpy(), rtol=1e-5, atol=1e-6)
    res = evaluate(model, cross_entropy, (x, y), batch_size=8)
    assert set(res) == {"loss", "accuracy"}
    assert res["accuracy"] == pytest.approx(accuracy(out, y))
    assert evaluate(model, None, (x, y)).keys() == {"accuracy"}
    assert all(p.grad is None for p in model.parameters())
    assert predict(model, x[:0]).shape[0] == 0


def test_metrics_accuracy_and_registry():
    logits = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 5.0]])
    assert accuracy(logits, np.array([0, 1, 0])) == pytest.approx(2 / 3)
    assert accuracy(logits, np.eye(3)) == 1.0  # one-hot targets
    assert accuracy(np.array([[-1.0], [2.0]]), np.array([0.0, 1.0])) == 1.0
    assert accuracy(np.array([0.5, -2.0]), np.array([0, 1])) == 0.0
    with pytest.raises(ValueError, match="unknown metric 'nope'"):
        get_metric("nope")

    def mae(out, tgt):
        return float(np.abs(out.argmax(1) - tgt).mean())

    register_metric("mae_cls", mae)
    assert get_metric("mae_cls") == ("mae_cls", mae)
    x, y = digits(20)
    model = mlp()
    h = fit(model, cross_entropy, _adam(model), (x, y), metrics=["mae_cls", accuracy], verbose=0)
    assert {"mae_cls", "accuracy"} <= set(h.history)


def test_early_stopping_restores_best_weights():
    x, y = digits(40)
    model = mlp()
    scripted = Scripted([3.0, 2.0, 1.0, 1.5, 2.5, 3.0, 4.0, 5.0])
    stop = EarlyStopping(monitor="val_fake", patience=2, restore_best_weights=True)
    h = fit(
        model,
        cross_entropy,
        _adam(model),
        (x, y),
        epochs=8,
        batch_size=10,
        callbacks=[scripted, stop],
        verbose=0,
    )
    assert h.stopped_early
    assert len(h) == 5
    assert stop.best_epoch == 2
    assert stop.stopped_epoch == 4
    for k, v in weights(model).items():
        np.testing.assert_array_equal(v, scripted.snapshots[2][k])
    with pytest.raises(KeyError, match="val_loss"):
        fit(model, cross_entropy, _adam(model), (x, y), callbacks=[EarlyStopping()], verbose=0)


def test_model_checkpoint_best_only(tmp_path):
    x, y = digits(40)
    model = mlp()
    scripted = Scripted([3.0, 1.0, 2.0, 0.5, 0.7])
    path = tmp_path / "best.safetensors"
    ckpt = ModelCheckpoint(path, monitor="val_fake", save_best_only=True)
    saves = []

    class Spy(Callback):
        def on_epoch_end(self, epoch, logs=None):
            saves.append(os.path.getmtime(path) if path.exists() else None)

    fit(
        model,
        cross_entropy,
        _adam(model),
        (x, y),
        epochs=5,
        batch_size=10,
        callbacks=[scripted, ckpt, Spy()],
        verbose=0,
    )
    loaded = dlx.load(path)
    for k, v in weights(loaded).items():
        np.testing.assert_array_equal(v, scripted.snapshots[3][k])
    every = ModelCheckpoint(tmp_path / "m-{epoch:02d}-{loss:.2f}.safetensors")
    fit(model, cross_entropy, _adam(model), (x, y), epochs=2, callbacks=[every], verbose=0)
    names = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("m-"))
    assert len(names) == 2
    assert names[0].startswith("m-01-")


def test_keyboard_interrupt_from_callback_keeps_checkpoint(tmp_path):
    x, y = digits(40)
    model = mlp()
    path = tmp_path / "last.safetensors"

    class Boom(Callback):
        def on_batch_end(self, batch, logs=None):
            if self.state.epoch == 1 and batch == 1:
                raise KeyboardInterrupt

    counter = Counter()
    h = fit(
        model,
        cross_entropy,
        _adam(model),
        (x, y),
        epochs=5,
        batch_size=10,
        callbacks=[ModelCheckpoint(path), Boom(), counter],
        verbose=0,
    )
    assert h.interrupted
    assert len(h) == 1
    assert counter.events[-1] == "train_end"
    assert dlx.load(path) is not None


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigint_stops_after_current_batch():
    x, y = digits(40)
    model = mlp()

    class CtrlC(Callback):
        def on_batch_begin(self, batch, logs=None):
            if self.state.epoch == 0 and batch == 1:
                os.kill(os.getpid(), signal.SIGINT)

    counter = Counter()
    before = signal.getsignal(signal.SIGINT)
    h = fit(
        model,
        cross_entropy,
        _adam(model),
        (x, y),
        epochs=3,
        batch_size=10,
        callbacks=[CtrlC(), counter],
        verbose=0,
    )
    assert h.interrupted
    assert len(h) == 0
    assert [e for e in counter.events if e[0] == "batch"] == [("batch", 0, 10), ("batch", 1, 10)]
    assert signal.getsignal(signal.SIGINT) is before


def test_scheduler_arg_and_callback_step_per_epoch():
    x, y = digits(20)
    model = mlp()
    opt = _adam(model, lr=0.1)
    sched = dlx.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    h = fit(model, cross_entropy, opt, (x, y), epochs=3, scheduler=sched, verbose=0)
    assert h["lr"] == pytest.approx([0.1, 0.05, 0.025])
    opt = _adam(model, lr=0.1)
    sched = dlx.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.1)
    h = fit(
        model,
        cross_entropy,
        opt,
        (x, y),
        epochs=2,
        callbacks=[LRSchedulerCallback(sched)],
        verbose=0,
    )
    assert h["lr"] == pytest.approx([0.1, 0.01])


def test_reduce_lr_on_plateau_gets_monitored_value():
    x, y = digits(20)
    model = mlp()
    opt = _adam(model, lr=0.1)
    seen = []
    sched = dlx.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    original = sched.step
    sched.step = lambda metrics: (seen.append(metrics), original(metrics))
    h = fit(
        model,
        cross_entropy,
        opt,
        (x, y),
        epochs=2,
        validation_data=(x, y),
        scheduler=sched,
        verbose=0,
    )
    assert seen == h["val_loss"]


def test_csv_logger(tmp_path):
    x, y = digits(20)
    model = mlp()
    path = tmp_path / "log.csv"
    fit(
        model, cross_entropy, _adam(model), (x, y), epochs=3, callbacks=[CSVLogger(path)], verbose=0
    )
    with path.open() as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "accuracy", "loss", "lr"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"]


def test_progress_fallback_and_silence(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    x, y = digits(20)
    model = mlp()
    fit(model, cross_entropy, _adam(model), (x, y), epochs=1, batch_size=10, verbose=1)
    err = capsys.readouterr().err
    assert "epoch 1/1" in err
    assert "2/2" in err
    assert "loss" in err
    fit(model, cross_entropy, _adam(model), (x, y), epochs=1, verbose=0)
    assert capsys.readouterr() == ("", "")


def test_history_plot_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    x, y = digits(20)
    model = mlp()
    h = fit(model, cross_entropy, _adam(model), (x, y), verbose=0)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        h.plot()


def test_history_plot_with_matplotlib():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    x, y = digits(20)
    model = mlp()
    h = fit(model, cross_entropy, _adam(model), (x, y), epochs=2, validation_data=(x, y), verbose=0)
    axes = h.plot()
    assert len(axes) == 2


# -- gradient clipping in fit ------------------------------------------------------------------
class GradProbe(Callback):
    """Records the joint L2 norm and the largest |entry| of the gradients after every step."""

    def __init__(self):
        self.norms, self.maxima = [], []

    def on_batch_end(self, batch, logs=None):
        grads = [p.grad.numpy() for p in self.state.model.parameters() if p.grad is not None]
        self.norms.append(
            float(np.sqrt(sum(float((g.astype(np.float64) ** 2).sum()) for g in grads)))
        )
        self.maxima.append(max(float(np.abs(g).max()) for g in grads))


def test_fit_clip_grad_norm_bounds_every_step():
    x, y = digits(120)
    x = x * 40.0  # large inputs: raw gradient norms well above the bound
    model = mlp()
    probe = GradProbe()
    sgd = dlx.optim.SGD(model.parameters(), lr=1e-3)
    h = fit(model, cross_entropy, sgd, (x, y), epochs=2, batch_size=20, callbacks=[probe],
            clip_grad_norm=0.5, verbose=0)  # fmt: skip
    assert len(probe.norms) == 12
    assert max(probe.norms) <= 0.5 * (1 + 1e-5)
    # the logged mean norm is the one before clipping, so it shows clipping happened
    assert h["grad_norm"][0] > 0.5
    assert len(h["grad_norm"]) == 2


def test_fit_clip_grad_value_bounds_every_entry():
    x, y = digits(60)
    model = mlp()
    probe = GradProbe()
    fit(model, cross_entropy, _adam(model), (x * 40.0, y), epochs=1, batch_size=20,
        callbacks=[probe], clip_grad_value=0.01, verbose=0)  # fmt: skip
    assert len(probe.maxima) == 3
    assert max(probe.maxima) <= 0.01
    assert max(probe.maxima) == pytest.approx(0.01)  # it did clip


def test_fit_clipping_matches_a_manual_loop():
    # Clipping sits between backward and the optimizer step: same weights as by hand.
    from dlx.nn.utils import clip_grad_norm_, clip_grad_value_

    x, y = digits(60)
    x = x * 10.0
    model = mlp()
    sgd = dlx.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    fit(model, cross_entropy, sgd, (x, y), epochs=2, batch_size=20, shuffle=False,
        clip_grad_norm=1.0, clip_grad_value=0.05, metrics=(), verbose=0)  # fmt: skip
    ref = mlp()
    opt = dlx.optim.SGD(ref.parameters(), lr=1e-2, momentum=0.9)
    ref.train()
    for _ in range(2):
        for i in range(0, 60, 20):
            opt.zero_grad()
            loss = cross_entropy(ref(dlx.tensor(x[i : i + 20])), dlx.tensor(y[i : i + 20]))
            loss.backward()
            clip_grad_value_(ref.parameters(), 0.05)
            clip_grad_norm_(ref.parameters(), 1.0)
            opt.step()
    for k, v in weights(model).items():
        np.testing.assert_allclose(v, weights(ref)[k], rtol=1e-6, atol=1e-7)


def test_fit_clip_grad_norm_with_lbfgs_closure():
    x, y = digits(40)
    model = mlp()
    probe = GradProbe()
    opt = dlx.optim.LBFGS(model.parameters(), lr=0.5, max_iter=5)
    h = fit(model, cross_entropy, opt, (x, y), epochs=2, batch_size=None, callbacks=[probe],
            clip_grad_norm=0.1, verbose=0)  # fmt: skip
    assert max(probe.norms) <= 0.1 * (1 + 1e-5)
    assert np.isfinite(h["loss"]).all()


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"clip_grad_norm": 0.0}, ValueError, r"`clip_grad_norm` must be a finite number > 0, got 0.0"),
        ({"clip_grad_norm": -1}, ValueError, r"`clip_grad_norm` must be a finite number > 0, got -1"),
        ({"clip_grad_norm": float("nan")}, ValueError, r"`clip_grad_norm` must be a finite number"),
        ({"clip_grad_value": float("inf")}, ValueError, r"`clip_grad_value` must be a finite number >= 0"),
        ({"clip_grad_value": -0.5}, ValueError, r"`clip_grad_value` must be a finite number >= 0, got -0.5"),
        ({"clip_grad_norm": "1"}, TypeError, r"`clip_grad_norm` must be a number or None, got str '1'"),
        ({"clip_grad_value": True}, TypeError, r"`clip_grad_value` must be a number or None, got bool"),
    ],
)  # fmt: skip
def test_fit_clip_arguments_are_checked(kwargs, exc, match):
    x, y = digits(20)
    model = mlp()
    before = weights(model)
    with pytest.raises(exc, match=match):
        fit(model, cross_entropy, _adam(model), (x, y), verbose=0, **kwargs)
    for k, v in weights(model).items():  # rejected before any training
        np.testing.assert_array_equal(v, before[k])
