"""Run the C++ vs NumPy (vs PyTorch) kernel benchmarks and print a ratio table.

Usage: python benchmarks/run.py [--size small|full] [--only SUBSTRING[,...]] [--suite SUBSTRING]
                                [--threads N] [--rounds R] [--stat median|min] [--json PATH]
                                [--plot PATH] [--capability baseline|avx2|avx512]

``--capability`` reruns the suite in a fresh process with every library held to that
instruction-set level: dlx through DLX_CPU_CAPABILITY, PyTorch through ATEN_CPU_CAPABILITY,
ONEDNN_MAX_CPU_ISA and MKL_ENABLE_INSTRUCTIONS, OpenBLAS (NumPy's and dlx's) through
OPENBLAS_CORETYPE, all set before anything is imported.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness
import numpy as np

# What holds each library to a level (set in the environment of a fresh process).
CAPABILITY_ENV = {
    "avx512": {"DLX_CPU_CAPABILITY": "avx512"},
    "avx2": {
        "DLX_CPU_CAPABILITY": "avx2",
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        "OPENBLAS_CORETYPE": "Haswell",
    },
    "baseline": {
        "DLX_CPU_CAPABILITY": "baseline",
        "ATEN_CPU_CAPABILITY": "default",
        "ONEDNN_MAX_CPU_ISA": "SSE41",
        "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
        "OPENBLAS_CORETYPE": "Nehalem",
    },
}
_CHILD = "_DLX_BENCH_CAPABILITY_CHILD"

SUITES = [
    "bench_linear",
    "bench_conv",
    "bench_conv_shapes",
    "bench_conv_memory",
    "bench_pool",
    "bench_attention",
    "bench_activation",
    "bench_loss",
    "bench_batchnorm",
    "bench_norm",
    "bench_dropout",
    "bench_optim",
    "bench_autograd",
    "bench_rnn",
    "bench_training",
    "bench_data",
    "bench_startup",
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", choices=["small", "full"], default="full")
    ap.add_argument(
        "--only", default="", help="run cases whose name contains this (or one of a,b,...)"
    )
    ap.add_argument(
        "--suite", default="", help="load only suites (bench_*.py) whose name contains this"
    )
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument(
        "--threads",
        type=int,
        default=None,
        help="thread count for dlx and torch alike (default: each library's own)",
    )
    ap.add_argument(
        "--stat",
        choices=["median", "min"],
        default="median",
        help="statistic for the table and ratios (the min is also shown)",
    )
    ap.add_argument("--json", type=Path, default=HERE / "results" / "latest.json")
    ap.add_argument(
        "--plot",
        type=Path,
        default=None,
        help="write a bar chart of the time ratios (needs matplotlib)",
    )
    ap.add_argument(
        "--capability",
        choices=sorted(CAPABILITY_ENV),
        default=None,
        help="hold dlx, torch and OpenBLAS to this ISA level (runs in a fresh process)",
    )
    args = ap.parse_args(argv)
    if args.capability is not None and os.environ.get(_CHILD) != args.capability:
        env = {**os.environ, **CAPABILITY_ENV[args.capability], _CHILD: args.capability}
        cmd = [sys.executable, "-P", str(Path(__file__).resolve()), *(argv or sys.argv[1:])]
        return subprocess.run(cmd, env=env, check=False).returncode

    import dlx

    torch = harness.torch_or_none()
    numpy_threads = "its BLAS default"
    if args.threads is not None:
        dlx.set_num_threads(args.threads)
        if torch:
            torch.set_num_threads(args.threads)
        # The NumPy references run their matmuls on NumPy's own OpenBLAS: hold it to the
        # same thread count (threadpoolctl, in the bench extra) for a fair comparison.
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            numpy_threads = "not limited (pip install threadpoolctl)"
        else:
            _limits = threadpool_limits(limits=args.threads, user_api="blas")
            numpy_threads = str(args.threads)
        dlx.set_num_threads(args.threads)  # threadpoolctl also reached dlx's own OpenBLAS

    done: list[harness.Case] = []
    failed: list[dict[str, str]] = []  # a failing case is reported, the others still run
    try:
        for name in SUITES:
            if args.suite in name and (HERE / f"{name}.py").exists():
                _run_suite(name, args, done, failed)
    finally:
        _write_json(args, done, failed, numpy_threads, torch)
    print(harness.format_table(done))
    for f in failed:
        print(f"FAILED {f['name']}: {f['error']}")
    if args.plot is not None:
        print(harness.plot_ratios(done, args.plot))
    return 1 if failed else 0


def _run_suite(name: str, args, done: list, failed: list) -> None:
    """Time every selected case of one suite module; record failures instead of stopping."""
    try:
        for case in harness.iter_cases([importlib.import_module(name)], args.size):
            if args.only and not any(part in case.name for part in args.only.split(",")):
                continue
            try:
                harness.run_case(case, rounds=args.rounds, stat=args.stat)
            except Exception as exc:  # noqa: BLE001 - reported; the other cases still run
                _failed(failed, case.name, exc)
                continue
            done.append(case)
            print(
                f"  {case.name}: "
                + ", ".join(f"{k} {v * 1e3:.3f} ms" for k, v in case.results.items()),
                flush=True,
            )
    except Exception as exc:  # noqa: BLE001 - the suite failed to import or build a case
        _failed(failed, name, exc)


def _failed(failed: list, name: str, exc: Exception) -> None:
    failed.append({"name": name, "error": f"{type(exc).__name__}: {exc}"})
    print(f"  {name}: FAILED ({type(exc).__name__}: {exc})", flush=True)


def _write_json(args, done: list, failed: list, numpy_threads: str, torch) -> None:
    import dlx

    cpu = dlx.cpu_info()
    torch_level = _torch_capability(torch)
    pinned = {k: os.environ[k] for k in CAPABILITY_ENV["avx2"] if k in os.environ}
    machine = (
        f"{cpu['model']} ({_cpu_model()}), {os.cpu_count()} cores, "
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"dlx ISA level {cpu['capability']} (best {cpu['best']}), "
        f"dlx threads {dlx.get_num_threads()}, float32 GEMM {cpu['gemm']}, "
        f"{dlx.blas_info()['config']}, numpy BLAS threads {numpy_threads}"
        + (
            f", torch {torch.__version__} threads {torch.get_num_threads()} "
            f"ATen capability {torch_level}"
            if torch
            else ""
        )
        + (f", environment {pinned}" if pinned else "")
    )
    print(f"\nmachine: {machine}\n")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(
        json.dumps(
            {
                "machine": machine,
                "cpu_model": cpu["model"],
                "capability": cpu["capability"],
                "gemm": cpu["gemm"],
                "cpu_info": cpu,
                "torch_capability": torch_level,
                "environment": pinned,
                "stat": args.stat,
                "rounds": args.rounds,
                "failed": failed,
                "cases": [
                    {
                        "name": c.name,
                        "median_s": c.medians,
                        "min_s": c.minima,
                        "samples_s": c.samples,
                        "work": c.work,
                        "note": c.note,
                        "extra": c.extra,
                    }
                    for c in done
                ],
            },
            indent=2,
        )
    )
    print(f"results written to {args.json}")


def _torch_capability(torch) -> str | None:
    """The ISA level torch's own kernels dispatch to ("AVX2", "AVX512", ...), if known."""
    if torch is None:
        return None
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except AttributeError:
        return None


def _cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (lscpu's "Model name"), else platform's guess."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    raise SystemExit(main())
