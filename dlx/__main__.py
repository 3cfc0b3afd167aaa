"""Command line: ``dlx <command>`` (the console script) or ``python -m dlx <command>``.

Commands
--------
info
    Show the dlx version, the CPU, the ISA level of the kernels, the cache sizes, the GEMM
    and the BLAS in use and the thread count, then run a quick self-check (GEMM against its
    NumPy reference) and time it.
train
    Train a small model (default: a CNN on the embedded 8x8 digits, 80/20 split, seed 0),
    print its test accuracy and save it (``--output``, default ``dlx-digits.safetensors``;
    an existing file is kept unless ``--overwrite``).
evaluate MODEL
    Test accuracy and loss of a saved model, on the split it was trained with.
summary MODEL
    Print the architecture of a saved model.

User mistakes (bad arguments, missing files, unwritable directories) end with one line
``dlx <command>: error: ...`` on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
import time

from dlx._cli_args import CLIParser, int_range


def _cmd_info(args: argparse.Namespace) -> int:
    import numpy as np

    import dlx
    from dlx import _core, reference
    from dlx._isa import format_cpu_info

    info = dlx.blas_info()
    print(f"dlx {dlx.__version__}  numpy {np.__version__}  python {sys.version.split()[0]}")
    print(format_cpu_info())
    print(f"BLAS: {info['config']} (float32 GEMM choice: dlx.set_gemm_backend / DLX_GEMM=blas)")
    print(f"threads: {dlx.get_num_threads()} (dlx.set_num_threads / OMP_NUM_THREADS)")
    rng = np.random.default_rng(0)
    n = args.size
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    err = np.abs(_core.gemm(a, b) - reference.gemm(a.astype(np.float64), b.astype(np.float64)))
    ok = bool(err.max() <= 1e-3 * np.sqrt(n))
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        _core.gemm(a, b)
        best = min(best, time.perf_counter() - t)
    print(
        f"self-check sgemm {n}^3: max abs error {err.max():.2e} ({'ok' if ok else 'FAILED'}), "
        f"{2 * n**3 / best / 1e9:.1f} GFLOP/s"
    )
    return 0 if ok else 1


def build_parser() -> argparse.ArgumentParser:
    """The ``dlx`` argument parser with its four sub-commands."""
    parser = CLIParser(
        prog="dlx",
        description="dlx command line (also: python -m dlx)",
        epilog="dlx COMMAND --help describes each command and its defaults.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p_info = sub.add_parser(
        "info",
        help="show CPU, ISA level, GEMM, BLAS and threads; run a self-check",
        description="Show the CPU, the ISA level and caches, the GEMM, BLAS and thread count; "
        "check and time one GEMM.",
    )
    p_info.add_argument(
        "--size", type=int_range(1, 4096), default=1024, help="self-check GEMM size (1-4096)"
    )
    p_info.set_defaults(func=_cmd_info)
    from dlx.train._cli import add_commands

    add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (OSError, ValueError, RuntimeError, ImportError) as exc:  # user mistakes, bad files
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"dlx {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"dlx {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
