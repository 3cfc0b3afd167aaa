"""Training on a busy machine: how much slower dlx and torch get when another process
keeps a core busy, against the same machine idle.

python benchmarks/bench_busy.py [--size small|full] [--rounds 5] [--threads N] [--busy K]

Each workload is a training step of ``bench_training`` (same architecture, same initial
weights in both libraries) plus the CLI's digits CNN at batch 32 (the ``dlx train``
demo). Rounds alternate idle and busy phases; in a busy phase ``--busy`` competing
processes (default 1: one core of a 2-core machine) spin in a pure-Python loop, and in
every phase dlx and torch are timed one after the other, so drift hits both alike. The
slowdown is the median busy time over the median idle time of the same library.

With OpenMP, a team of N threads waits at every barrier for its slowest member; a worker
that shares a core with the competitor runs at half speed, so the floor is about the
single-thread time (about 2x the idle 2-thread time). Workers that *spin* while they wait
also steal the competitor's core and can be far worse than that. dlx bounds libgomp's spin
(``dlx/_native.py``) unless ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` is set; run this
script with ``GOMP_SPINCOUNT=300000`` (libgomp's own default) for the unbounded numbers.
The JSON (``--json``, default ``benchmarks/results/busy.json``) has every sample.
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
sys.path.insert(0, str(HERE))

import bench_training
import numpy as np
from harness import torch_or_none

import dlx
import dlx.optim
from dlx import nn

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
BUSY_LOOP = "while True: pass"


def workloads(size: str) -> list[tuple[str, list, tuple[int, ...], int, str]]:
    """(name, layer spec, input shape, batch, optimiser) per training workload."""
    out = [("digits cnn b32 (dlx train demo)", DIGITS, (1, 8, 8), 32, "adam")]
    names = ("mlp", "lenet") if size == "small" else ("mlp", "lenet", "vgg", "cifar")
    for name in names:
        batch = bench_training.BATCH[name] if size == "full" else 32
        out.append(
            (
                f"train {name} b{batch} ({bench_training.OPTIM[name]})",
                bench_training.SPECS[name],
                bench_training.INPUT[name],
                batch,
                bench_training.OPTIM[name],
            )
        )
    return out


def steps(spec, shape, batch, optim, torch):
    """``{"dlx": step, "torch": step}``: one training step each, identical weights."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, *shape), dtype=np.float32)
    y = rng.integers(0, 10, batch).astype(np.int64)
    dmodel = bench_training.build(nn, spec)
    impls = {}
    if torch is not None:
        torch.manual_seed(0)
        tmodel = bench_training.build(torch.nn, spec)
        dmodel.load_state_dict({k: v.detach().numpy() for k, v in tmodel.state_dict().items()})
        topt = bench_training.make_optimizer(torch, tmodel.parameters(), optim)
        tloss, tx, ty = torch.nn.CrossEntropyLoss(), torch.from_numpy(x), torch.from_numpy(y)

        def torch_step():
            topt.zero_grad()
            tloss(tmodel(tx), ty).backward()
            topt.step()

        impls["torch"] = torch_step
    dopt = bench_training.make_optimizer(dlx, dmodel.parameters(), optim)
    dloss, dx, dy = nn.CrossEntropyLoss(), dlx.from_numpy(x), dlx.from_numpy(y)

    def dlx_step():
        dopt.zero_grad()
        dloss(dmodel(dx), dy).backward()
        dopt.step()

    return {"dlx": dlx_step, **impls}


def per_step(fn, min_time: float) -> float:
    """Seconds per call over at least ``min_time`` (after two untimed calls)."""
    fn()
    fn()
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed / calls


def start_busy(n: int) -> list[subprocess.Popen]:
    # -P: never import anything from the current directory (the checkout).
    return [subprocess.Popen([sys.executable, "-P", "-c", BUSY_LOOP]) for _ in range(n)]


def stop_busy(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.kill()
    for p in procs:
        p.wait()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=("small", "full"), default="full")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="dlx and torch threads")
    ap.add_argument("--busy", type=int, default=1, help="competing busy processes")
    ap.add_argument("--min-time", type=float, default=0.4, help="seconds per sample")
    ap.add_argument("--json", type=Path, default=HERE / "results" / "busy.json")
    args = ap.parse_args(argv)
    torch = torch_or_none()
    if args.threads is not None:
        dlx.set_num_threads(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)
    env = {k: os.environ[k] for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT") if k in os.environ}
    print(
        f"dlx threads {dlx.get_num_threads()}"
        + (f", torch {torch.__version__} threads {torch.get_num_threads()}" if torch else "")
        + f", {args.busy} busy process(es), {os.cpu_count()} cores, env {env or 'default'}",
        flush=True,
    )
    results = []
    try:
        for name, spec, shape, batch, optim in workloads(args.size):
            impls = steps(spec, shape, batch, optim, torch)
            samples: dict[str, dict[str, list[float]]] = {
                k: {"idle": [], "busy": []} for k in impls
            }
            for _ in range(args.rounds):
                for phase in ("idle", "busy"):
                    procs = start_busy(args.busy) if phase == "busy" else []
                    try:
                        time.sleep(0.3)  # let the competitor start / pools settle
                        for key, fn in impls.items():
                            samples[key][phase].append(per_step(fn, args.min_time))
                    finally:
                        stop_busy(procs)
            row = {"name": name, "samples_s": samples}
            line = [name]
            for key, s in samples.items():
                idle, busy = statistics.median(s["idle"]), statistics.median(s["busy"])
                row[key] = {"idle_s": idle, "busy_s": busy, "slowdown": busy / idle}
                line.append(f"{key} {idle * 1e3:.2f} -> {busy * 1e3:.2f} ms ({busy / idle:.2f}x)")
            results.append(row)
            print("  " + "; ".join(line), flush=True)
    finally:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "threads": dlx.get_num_threads(),
                    "busy": args.busy,
                    "env": env,
                    "cases": results,
                },
                indent=2,
            )
        )
    print(format_table(results))
    return 0


def format_table(results: list[dict]) -> str:
    """Markdown: idle and busy ms and the slowdown per library."""
    libs = [k for k in ("dlx", "torch") if results and k in results[0]]
    head = ["workload"] + [f"{k} idle / busy ms (slowdown)" for k in libs]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        cells = [
            f"{r[k]['idle_s'] * 1e3:.2f} / {r[k]['busy_s'] * 1e3:.2f} ({r[k]['slowdown']:.2f}x)"
            for k in libs
        ]
        lines.append("| " + " | ".join([r["name"], *cells]) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
