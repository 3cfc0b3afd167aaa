"""What the README's reliability section promises about threads: inference on one model
from several threads, and separate training loops in separate threads, give the results
they give one after another."""

from __future__ import annotations

import threading

import numpy as np

import dlx
import dlx.optim
from dlx import nn
from dlx.train import fit, predict


def _run_threads(fns):
    results: list = [None] * len(fns)
    errors: list = []

    def call(i, fn):
        try:
            results[i] = fn()
        except Exception as exc:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def _cnn(seed):
    dlx.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 10),
    )


def test_inference_on_one_model_from_several_threads():
    model = _cnn(0).eval()
    rng = np.random.default_rng(0)
    inputs = [rng.random((16, 1, 8, 8), dtype=np.float32) for _ in range(4)]
    expected = [predict(model, x) for x in inputs]

    def worker(x):
        return [predict(model, x, batch_size=5) for _ in range(15)]

    got = _run_threads([lambda x=x: worker(x) for x in inputs])
    for outs, want in zip(got, expected, strict=True):
        for out in outs:
            np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)
    assert not model.training


def test_separate_training_loops_in_separate_threads():
    x, y = dlx.data.load_digits()
    x, y = x[:256], y[:256]

    def train(seed):
        model = _cnn(seed)  # built before the threads start: the default generator is shared
        opt = dlx.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        return lambda: (
            fit(
                model,
                nn.CrossEntropyLoss(),
                opt,
                (x, y),
                epochs=2,
                batch_size=32,
                verbose=0,
                seed=seed,
            ),
            {k: np.array(v) for k, v in model.state_dict().items()},
        )[1]

    sequential = [train(s)() for s in range(3)]
    concurrent = _run_threads([train(s) for s in range(3)])
    for seq, con in zip(sequential, concurrent, strict=True):
        for k in seq:
            np.testing.assert_allclose(con[k], seq[k], rtol=1e-5, atol=1e-6, err_msg=k)
