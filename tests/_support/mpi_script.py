"""Programs that tests/distributed/test_distributed.py runs under ``mpirun -n 2`` (and helpers it imports).

``python mpi_script.py MODE OUTDIR``:

equiv
    ``fit(distributed=True)`` for 2 epochs of 10 steps (2 ranks x batch 32) with a
    training-state ModelCheckpoint, then a fresh model resumed from that checkpoint for a
    third epoch. Rank 0 writes ``equiv.npz`` (weights after 20 steps, after the resumed
    epoch, and the loss logs); every rank writes ``rank<r>.npz``.
raise
    Rank 1 raises in a callback in the middle of the first epoch.
hang
    Rank 1 sleeps instead of joining a collective; rank 0 has a 2 s watchdog.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

N, FEATURES, CLASSES, SEED = 640, 20, 4, 0


def make_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1234)
    x = rng.standard_normal((N, FEATURES)).astype(np.float32)
    w = rng.standard_normal((FEATURES, CLASSES))
    y = np.argmax(x @ w + 0.5 * rng.standard_normal((N, CLASSES)), axis=1).astype(np.int64)
    return x, y


def make_model_and_optimizer() -> tuple[object, object]:
    import dlx
    from dlx import nn, optim

    dlx.manual_seed(SEED)
    model = nn.Sequential(nn.Linear(FEATURES, 32), nn.ReLU(), nn.Linear(32, CLASSES))
    return model, optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def weights(model: object) -> dict[str, np.ndarray]:
    return {k: np.array(v) for k, v in model.state_dict().items()}  # type: ignore[attr-defined]


def _equiv(out: str) -> None:
    import dlx.distributed as dist
    from dlx import nn
    from dlx.train import CSVLogger, ModelCheckpoint, fit

    rank, world = dist.init()
    x, y = make_data()
    ckpt = os.path.join(out, "ckpt.safetensors")
    model, opt = make_model_and_optimizer()
    if rank == 1:  # rank 0's initial weights must win
        for p in model.parameters():
            p.data[...] = 7.0
    cbs = [ModelCheckpoint(ckpt, training_state=True), CSVLogger(os.path.join(out, "log.csv"))]
    h2 = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        (x, y),
        epochs=2,
        batch_size=32,
        seed=SEED,
        callbacks=cbs,
        distributed=True,
        verbose=1,
        validation_data=(x[:101], y[:101]),
    )
    w2 = weights(model)
    model, opt = make_model_and_optimizer()
    h3 = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        (x, y),
        epochs=3,
        batch_size=32,
        seed=SEED,
        resume_from=ckpt,
        verbose=0,
        validation_data=(x[:101], y[:101]),
    )  # auto-detected: init() ran with 2 ranks
    w3 = weights(model)
    _check_collectives(rank, world)
    np.savez(os.path.join(out, f"rank{rank}.npz"), world=world, **w3)
    if rank == 0:
        logs = {f"{k}_hist": np.array(h3.history[k]) for k in ("loss", "val_loss", "val_accuracy")}
        np.savez(
            os.path.join(out, "equiv.npz"),
            loss2=np.array(h2.history["loss"]),
            **logs,
            **{f"w2.{k}": v for k, v in w2.items()},
            **{f"w3.{k}": v for k, v in w3.items()},
        )


def _check_collectives(rank: int, world: int) -> None:
    """Bucketed and per-parameter gradient averaging, BatchNorm buffer averaging."""
    import dlx.distributed as dist
    from dlx import nn

    model, opt = make_model_and_optimizer()
    for p in model.parameters():
        p.grad = np.full(p.data.shape, rank + 1.0, np.float32)
    dist.allreduce_gradients(opt, bucket_bytes=256, timeout=10.0)
    mean = (world + 1) / 2
    assert all(np.all(p.grad == mean) for p in model.parameters()), "bucketed allreduce"
    params = list(model.parameters())
    for p in params:
        p.grad = None if p is params[0] and rank == 0 else np.full(p.data.shape, 2.0, np.float32)
    dist.allreduce_gradients(params)
    assert np.all(params[0].grad == 2.0 * (world - 1) / world), "missing grad counts as zero"
    bn = nn.BatchNorm2d(3)
    bn.running_mean.data[...] = rank
    bn.num_batches_tracked.data[...] = 10 + rank
    dist.sync_buffers(bn)
    assert np.all(bn.running_mean.data == (world - 1) / 2), "buffers averaged"
    assert int(bn.num_batches_tracked.data) == 10, "integer buffers from rank 0"


def _raise() -> None:
    import dlx.distributed as dist
    from dlx import nn
    from dlx.train import Callback, fit

    rank, _ = dist.init()

    class Boom(Callback):
        def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
            if rank == 1 and batch == 3:
                msg = "rank 1 failed on purpose"
                raise RuntimeError(msg)

    x, y = make_data()
    model, opt = make_model_and_optimizer()
    fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        (x, y),
        epochs=50,
        batch_size=32,
        callbacks=[Boom()],
        distributed=True,
        verbose=0,
    )


def _hang() -> None:
    import dlx.distributed as dist

    rank, _ = dist.init(timeout=2.0)
    if rank == 1:
        time.sleep(120)
    dist.barrier()


if __name__ == "__main__":
    mode, outdir = sys.argv[1], sys.argv[2]
    {"equiv": lambda: _equiv(outdir), "raise": _raise, "hang": _hang}[mode]()
