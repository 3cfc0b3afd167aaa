"""Run the C++ vs NumPy (vs PyTorch) kernel benchmarks and print a ratio table.

Usage: python benchmarks/run.py [--size small|full] [--only SUBSTRING] [--json PATH]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402

SUITES = ["bench_linear", "bench_conv", "bench_pool", "bench_activation", "bench_loss",
          "bench_batchnorm", "bench_dropout", "bench_optim", "bench_autograd", "bench_rnn"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", choices=["small", "full"], default="full")
    ap.add_argument("--only", default="", help="run cases whose name contains this")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", type=Path, default=HERE / "results" / "latest.json")
    args = ap.parse_args(argv)

    import dlx

    modules = []
    for name in SUITES:
        if (HERE / f"{name}.py").exists():
            modules.append(importlib.import_module(name))
    done = []
    for case in harness.iter_cases(modules, args.size):
        if args.only and args.only not in case.name:
            continue
        harness.run_case(case, rounds=args.rounds)
        done.append(case)
        print(f"  {case.name}: " + ", ".join(
            f"{k} {v * 1e3:.3f} ms" for k, v in case.results.items()), flush=True)
    torch = harness.torch_or_none()
    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
               f"dlx threads {dlx.get_num_threads()}, {dlx.blas_info()['config']}"
               + (f", torch {torch.__version__} threads {torch.get_num_threads()}" if torch else ""))
    print(f"\nmachine: {machine}\n")
    print(harness.format_table(done))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "machine": machine,
        "cases": [{"name": c.name, "median_s": c.results, "work": c.work, "note": c.note}
                  for c in done]}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
