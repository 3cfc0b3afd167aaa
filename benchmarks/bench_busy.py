"""Training on a busy machine: how much slower dlx and torch get when another process
keeps a core busy, against the same machine without it.

python benchmarks/bench_busy.py [--size small|full] [--rounds 5] [--threads N] [--busy K]

Workloads: the ``dlx train`` demo's model (the digits CNN, batch 32) and the training steps
of ``bench_training`` (same architectures in both libraries). Each library runs in its own
worker process: one process holds one libgomp, and torch's bundled ``libgomp.so.1`` and the
system one share a SONAME, so whichever library loads first sets the OpenMP wait policy for
both; separate workers give each library its own defaults (the torch worker imports torch
first). Rounds alternate a quiet phase and a busy phase; in a busy phase ``--busy``
competing processes (default 1: one core of a 2-core machine) spin in a pure-Python loop,
and the two workers are timed one after the other in every phase, so drift hits both. The
slowdown is the median busy time over the median quiet time of the same library.

An OpenMP team waits at every barrier for its slowest thread; a thread sharing a core with
the competitor runs at about half speed, so the floor is about the 1-thread time (about 2x
the quiet 2-thread time). Workers that *spin* while they wait also take the core the
others need and do far worse. dlx bounds libgomp's spin (``dlx/_import_env.py``) unless
``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` is set: run with ``GOMP_SPINCOUNT=300000``
(libgomp's own default) for the unbounded numbers. JSON with every sample:
``--json`` (default ``benchmarks/results/busy.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUSY_LOOP = "while True: pass"
# The CLI's default model on the 8x8 digits (dlx.train._cli.build_model("cnn", ...)).
DIGITS = [
    ("conv", 1, 16, 3, 1),
    ("relu",),
    ("pool", 2),
    ("conv", 16, 32, 3, 1),
    ("relu",),
    ("pool", 2),
    ("flatten",),
    ("dropout", 0.25),
    ("linear", 32 * 2 * 2, 10),
]


def workloads(size: str) -> list[tuple[str, list, tuple[int, ...], int, str]]:
    """(name, layer spec, input shape, batch, optimiser) per training workload."""
    import bench_training as bt

    out = [("digits cnn b32 (dlx train demo)", DIGITS, (1, 8, 8), 32, "adam")]
    names = ("mlp", "lenet") if size == "small" else ("mlp", "lenet", "vgg", "cifar")
    for name in names:
        batch = bt.BATCH[name] if size == "full" else 32
        out.append((f"train {name} b{batch} ({bt.OPTIM[name]})", bt.SPECS[name], bt.INPUT[name],
                    batch, bt.OPTIM[name]))  # fmt: skip
    return out


# -- worker: one library per process ---------------------------------------------------------
def _step(lib: str, spec, shape, batch, optim):
    """One training step of ``spec`` in ``lib`` ("dlx" or "torch") on fixed random data."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, *shape), dtype=np.float32)
    y = rng.integers(0, 10, batch).astype(np.int64)
    import bench_training as bt

    if lib == "torch":
        import torch

        torch.manual_seed(0)
        model = bt.build(torch.nn, spec)
        opt = bt.make_optimizer(torch, model.parameters(), optim)
        loss_fn, tx, ty = torch.nn.CrossEntropyLoss(), torch.from_numpy(x), torch.from_numpy(y)
    else:
        import dlx
        import dlx.optim

        dlx.manual_seed(0)
        model = bt.build(dlx.nn, spec)
        opt = bt.make_optimizer(dlx, model.parameters(), optim)
        loss_fn, tx, ty = dlx.nn.CrossEntropyLoss(), dlx.from_numpy(x), dlx.from_numpy(y)

    def step():
        opt.zero_grad()
        loss_fn(model(tx), ty).backward()
        opt.step()

    return step


def per_step(fn, min_time: float) -> float:
    """Seconds per call over at least ``min_time`` (after two untimed calls)."""
    from harness import _time_once

    fn()
    fn()
    return _time_once(fn, min_time)


def worker(lib: str, size: str, threads: int | None) -> None:
    """Serve ``<index> <min_time>`` lines on stdin with one JSON time per line on stdout."""
    if lib == "torch":
        import torch  # first: torch's libgomp, at its own defaults

        if threads:
            torch.set_num_threads(threads)
        info = f"torch {torch.__version__} threads {torch.get_num_threads()}"
    else:
        import dlx

        if threads:
            dlx.set_num_threads(threads)
        info = f"dlx threads {dlx.get_num_threads()}"
    steps = [_step(lib, *w[1:]) for w in workloads(size)]
    print(json.dumps({"info": info}), flush=True)
    for line in sys.stdin:
        index, min_time = line.split()
        print(json.dumps(per_step(steps[int(index)], float(min_time))), flush=True)


# -- parent ----------------------------------------------------------------------------------
def _start(lib: str, args: argparse.Namespace) -> subprocess.Popen:
    cmd = [sys.executable, "-P", __file__, "--worker", lib, "--size", args.size]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def _ask(proc: subprocess.Popen, index: int, min_time: float) -> float:
    proc.stdin.write(f"{index} {min_time}\n")
    proc.stdin.flush()
    return float(json.loads(proc.stdout.readline()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=("small", "full"), default="full")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="threads for both libraries")
    ap.add_argument("--busy", type=int, default=1, help="competing busy processes")
    ap.add_argument("--min-time", type=float, default=0.4, help="seconds per sample")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "busy.json")
    ap.add_argument("--worker", choices=("dlx", "torch"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE))
    if args.worker:
        worker(args.worker, args.size, args.threads)
        return 0
    import importlib.util

    libs = ["dlx"] + (["torch"] if importlib.util.find_spec("torch") else [])
    procs = {lib: _start(lib, args) for lib in libs}
    infos = {lib: json.loads(p.stdout.readline())["info"] for lib, p in procs.items()}
    env = {k: os.environ[k] for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT") if k in os.environ}
    print(f"{', '.join(infos.values())}; {args.busy} busy process(es), {os.cpu_count()} cores, "
          f"env {env or 'default'}", flush=True)  # fmt: skip
    results = []
    try:
        for index, (name, *_rest) in enumerate(workloads(args.size)):
            samples = {lib: {"quiet": [], "busy": []} for lib in libs}
            for _ in range(args.rounds):
                for phase in ("quiet", "busy"):
                    busy = [
                        subprocess.Popen([sys.executable, "-P", "-c", BUSY_LOOP])
                        for _ in range(args.busy if phase == "busy" else 0)
                    ]
                    try:
                        time.sleep(0.3)  # the competitor starts; the pools go to sleep
                        for lib, proc in procs.items():
                            samples[lib][phase].append(_ask(proc, index, args.min_time))
                    finally:
                        for b in busy:
                            b.kill()
                            b.wait()
            row: dict = {"name": name, "samples_s": samples}
            for lib, s in samples.items():
                quiet, busy_t = statistics.median(s["quiet"]), statistics.median(s["busy"])
                row[lib] = {"quiet_s": quiet, "busy_s": busy_t, "slowdown": busy_t / quiet}
            results.append(row)
            print("  " + name + ": " + "; ".join(
                f"{lib} {row[lib]['quiet_s'] * 1e3:.2f} -> {row[lib]['busy_s'] * 1e3:.2f} ms "
                f"({row[lib]['slowdown']:.2f}x)" for lib in libs), flush=True)  # fmt: skip
    finally:
        for proc in procs.values():
            proc.stdin.close()
            proc.wait()
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(
            {"libs": infos, "busy": args.busy, "env": env, "cases": results}, indent=2))  # fmt: skip
    print(format_table(results, libs))
    return 0


def format_table(results: list[dict], libs: list[str]) -> str:
    """Markdown: quiet and busy ms and the slowdown per library."""
    head = ["workload"] + [f"{lib} quiet / busy ms (slowdown)" for lib in libs]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        cells = [
            f"{r[k]['quiet_s'] * 1e3:.2f} / {r[k]['busy_s'] * 1e3:.2f} ({r[k]['slowdown']:.2f}x)"
            for k in libs
        ]
        lines.append("| " + " | ".join([r["name"], *cells]) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
