"""Data-parallel scaling: training samples/s with 1 and 2 MPI ranks, one thread per rank.

A standalone script (not a ``run.py`` suite: it launches processes)::

    pip install ".[mpi]"
    python benchmarks/bench_distributed.py [--ranks 1 2] [--steps 30] [--size small]

The model is the CIFAR-10 BatchNorm CNN (four 3x3 convs with BatchNorm + ReLU, two 2x2
max pools, a linear head), SGD with momentum, batch 64 per rank on synthetic 3x32x32
data. The 1-rank baseline runs without ``mpirun`` (``mpirun -n 1`` would pin it to one
core anyway); N ranks run under ``mpirun -n N`` (each rank bound to its own core).
Every process uses 1 dlx/BLAS thread. Reported: global samples/s (all ranks), the share
of a step spent in the gradient allreduce, and the scaling efficiency
``samples/s(N) / (N * samples/s(1))``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

BATCH = 64


def build_model():
    from dlx import nn

    def block(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU()]

    return nn.Sequential(
        *block(3, 32), *block(32, 32), nn.MaxPool2d(2),
        *block(32, 64), *block(64, 64), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 8 * 8, 10),
    )  # fmt: skip


def worker(steps: int, warmup: int) -> None:
    """One rank's training loop; rank 0 prints a JSON line with the timings."""
    import numpy as np

    import dlx
    import dlx.distributed as dist
    from dlx import nn, optim

    dlx.set_num_threads(1)
    rank, world = dist.init()
    dlx.manual_seed(0)
    ddp = dist.DistributedDataParallel(build_model())
    opt = optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(rank)
    x = dlx.Tensor(rng.standard_normal((BATCH, 3, 32, 32), dtype=np.float32))
    y = dlx.Tensor(rng.integers(0, 10, BATCH))
    comm = 0.0
    for i in range(warmup + steps):
        if i == warmup:
            dist.barrier()
            comm, start = 0.0, time.perf_counter()
        opt.zero_grad()
        loss_fn(ddp(x), y).backward()
        t = time.perf_counter()
        ddp.sync_gradients(opt)
        comm += time.perf_counter() - t
        opt.step()
    dist.barrier()
    secs = time.perf_counter() - start
    if rank == 0:
        n_grad = sum(g.size for _, g in opt.flat_buffers().values())
        print(json.dumps({"ranks": world, "sps": world * BATCH * steps / secs,
                          "comm": comm / secs, "grad_mb": 4 * n_grad / 1e6}))  # fmt: skip


def launch(ranks: int, steps: int, warmup: int, bind: bool = True) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    # -P: the workers must import the installed dlx, never a checkout's source tree.
    cmd = [sys.executable, "-P", __file__, "--worker", "--steps", str(steps)]
    cmd += ["--warmup", str(warmup)]
    if ranks > 1:
        bindir = os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")])
        mpirun = shutil.which("mpirun", path=bindir)
        if mpirun is None:
            sys.exit('mpirun not found: pip install "dlx[mpi]"')
        extra = ["--oversubscribe"] if ranks > (os.cpu_count() or 1) else []
        extra += [] if bind else ["--bind-to", "none"]
        cmd = [mpirun, "-n", str(ranks), *extra, *cmd]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--steps", type=int, default=None, help="timed steps (default 30, small 8)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--size", choices=("small", "full"), default="full")
    ap.add_argument(
        "--no-bind",
        action="store_true",
        help="mpirun --bind-to none (fairer on a machine busy with other work)",
    )
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    steps = args.steps or (8 if args.size == "small" else 30)
    if args.worker:
        worker(steps, args.warmup)
        return
    print(f"CIFAR-10 BatchNorm CNN, batch {BATCH}/rank, 1 thread/rank, {steps} steps, "
          f"{os.cpu_count()} cores")  # fmt: skip
    print(f"{'ranks':>5} {'samples/s':>10} {'allreduce':>10} {'efficiency':>10}")
    base = None
    for r in args.ranks:
        res = launch(r, steps, args.warmup, bind=not args.no_bind)
        base = res["sps"] / r if base is None else base
        eff = res["sps"] / (r * base)
        print(f"{r:>5} {res['sps']:>10.0f} {100 * res['comm']:>9.1f}% {100 * eff:>9.0f}%")
    print(f"(gradients: {res['grad_mb']:.2f} MB float32 per step, one Allreduce)")


if __name__ == "__main__":
    main()
