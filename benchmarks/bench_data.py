"""The data stage: an augmentation-heavy CIFAR-shaped epoch with 0, 1 and 2 DataLoader workers.

Synthetic uint8 images 3x32x32 (50,000, or 4,096 with ``--size small``) are augmented per
sample in the dataset's ``__getitem__`` (the torchvision pattern: to float, pad 4 + random
32x32 crop, random horizontal flip, per-channel normalise, each a dlx transform on a
one-image batch) and feed a small CNN training step (conv3x3 3->16, ReLU, pool, conv3x3
16->32, ReLU, pool, linear 2048->10; SGD momentum; batch 128) in the main process.

Implementations (each call is one epoch; the time reported is per training step):

- ``dlx``: ``DataLoader(num_workers=2, persistent_workers=True)``, the claim under test;
- ``0 workers`` / ``1 worker``: the same loader with fewer workers;
- ``pre-augmented``: the same steps on batches augmented beforehand (no data stage at all),
  the floor the workers are measured against (target: 2 workers within 10% of it);
- ``batch transforms``: dlx's own way for in-memory arrays, a ``TensorDataset`` with the
  same augmentation as vectorised batch transforms, in the main process.

The note gives the speed-up of 2 workers over 0, the step-time ratio of 2 workers to
pre-augmented, how long the training loop waited for data per step (near zero at 2
workers: the data stage is not the bottleneck) and the CPU time per step of the main
process and of the workers (from /proc; far less disturbed by a busy machine than wall
time when the main process runs one thread: it shows what the data stage costs and
whether a spare core can hide it).
"""

from __future__ import annotations

import os
import statistics
import time

import numpy as np
from harness import Case

import dlx
import dlx.optim
from dlx import nn
from dlx.data import DataLoader, Dataset, TensorDataset
from dlx.data.transforms import Compose, Normalize, RandomCrop, RandomHorizontalFlip, ToFloat32

MEAN, STD = [0.49, 0.48, 0.45], [0.25, 0.24, 0.26]
BATCH = 128
SIZES = {"small": 4096, "full": 50_000}


def _augment(seed: int) -> Compose:
    return Compose(
        [
            ToFloat32(1 / 255),
            RandomCrop(32, padding=4, generator=seed),
            RandomHorizontalFlip(generator=seed + 1),
            Normalize(MEAN, STD),
        ]
    )


class AugmentedImages(Dataset):
    """uint8 images augmented one at a time in ``__getitem__`` (per-sample Python work)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, seed: int = 0) -> None:
        self.images, self.labels = images, labels
        self.augment = _augment(seed)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.int64]:
        return self.augment(self.images[i : i + 1])[0], self.labels[i]


def _model() -> tuple[nn.Module, dlx.optim.Optimizer]:
    dlx.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 8 * 8, 10),
    )
    return model, dlx.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)


def _cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) of this process, or of process ``pid`` (Linux /proc)."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _Trainer:
    """Runs one epoch over a batch source; records per step the loop's wait for data, the
    main process's CPU time and the workers' CPU time (the data stage's cost)."""

    def __init__(self) -> None:
        self.model, self.opt = _model()
        self.loss = nn.CrossEntropyLoss()
        self.waits: list[float] = []
        self.main_cpu: list[float] = []
        self.worker_cpu: list[float] = []

    def epoch(self, source) -> float:
        steps, wait = 0, 0.0
        it = iter(source)
        pids = getattr(it, "worker_pids", [])
        cpu0, wcpu0 = _cpu_seconds(), sum(_cpu_seconds(p) for p in pids)
        start = last = time.perf_counter()
        for xb, yb in it:
            wait += time.perf_counter() - last
            self.opt.zero_grad()
            self.loss(self.model(dlx.from_numpy(xb)), dlx.from_numpy(yb)).backward()
            self.opt.step()
            steps += 1
            last = time.perf_counter()
        self.waits.append(wait / steps)
        self.main_cpu.append((_cpu_seconds() - cpu0) / steps)
        self.worker_cpu.append((sum(_cpu_seconds(p) for p in pids) - wcpu0) / steps)
        return (last - start) / steps


def cases(size: str):
    n = SIZES[size]
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n).astype(np.int64)
    per_sample = AugmentedImages(images, labels)

    def loader(workers: int) -> DataLoader:
        kw = {"num_workers": workers, "persistent_workers": True} if workers else {}
        return DataLoader(per_sample, batch_size=BATCH, shuffle=True, generator=0, **kw)

    loaders = {w: loader(w) for w in (0, 1, 2)}
    steps = n // BATCH + (n % BATCH > 0)
    prepared = list(loaders[0])[: min(steps, 24)]  # cycled: same shapes, no data stage
    cycle = [prepared[k % len(prepared)] for k in range(steps)]
    vectorised = DataLoader(
        TensorDataset(images, labels), batch_size=BATCH, shuffle=True, generator=0,
        transform=_augment(0),
    )  # fmt: skip
    start = time.perf_counter()
    next(iter(DataLoader(per_sample, batch_size=BATCH, num_workers=2)))
    startup = time.perf_counter() - start

    trainers = {k: _Trainer() for k in ("dlx", "0 workers", "1 worker", "pre-augmented", "batch")}
    impls = {
        "dlx": lambda: trainers["dlx"].epoch(loaders[2]),
        "0 workers": lambda: trainers["0 workers"].epoch(loaders[0]),
        "1 worker": lambda: trainers["1 worker"].epoch(loaders[1]),
        "pre-augmented": lambda: trainers["pre-augmented"].epoch(cycle),
        "batch transforms": lambda: trainers["batch"].epoch(vectorised),
    }
    case = Case(
        f"cifar epoch {n} images, per-sample augmentation, b{BATCH}",
        impls,
        work=(BATCH, "samples"),
        self_timed=True,
    )

    def finalize(c: Case) -> None:
        r = c.results

        def ms(name: str, field: str) -> str:  # median over the timed epochs (not the warm-up)
            values = getattr(trainers[name], field)
            return f"{statistics.median(values[1:] or values) * 1e3:.1f}"

        c.note = (
            "dlx = 2 workers (persistent); time per training step. "
            f"2 workers vs 0: {r['0 workers'] / r['dlx']:.2f}x faster; "
            f"2 workers / pre-augmented: {r['dlx'] / r['pre-augmented']:.2f} (target <= 1.10); "
            f"loop waited for data {ms('dlx', 'waits')} ms/step at 2 workers, "
            f"{ms('0 workers', 'waits')} at 0 (making the batch); CPU ms per step: "
            f"main {ms('pre-augmented', 'main_cpu')} pre-augmented, {ms('0 workers', 'main_cpu')} "
            f"at 0 workers, {ms('dlx', 'main_cpu')} at 2 (+ workers {ms('dlx', 'worker_cpu')}); "
            f"a fresh 2-worker pool gave its first batch after {startup:.2f} s; "
            f"main process {dlx.get_num_threads()} threads, workers 1 each"
        )

    case.finalize = finalize
    yield case
