"""Benchmark harness: interleaved rounds, medians and ratios, in one process.

A suite module ``benchmarks/bench_<family>.py`` defines ``cases(size)`` yielding
:class:`Case` objects. Each case holds several implementations of the same work (for
example ``dlx``, ``numpy`` reference and, when installed, ``torch``); the harness times
them round by round (dlx, numpy, torch, dlx, numpy, torch, ...) so machine noise hits all
of them alike, and reports the median of each and the ratios to dlx.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field


@dataclass
class Case:
    """One benchmark: implementations of identical work, keyed by library name."""

    name: str
    impls: dict[str, Callable[[], object]]
    # Optional work per call for throughput columns: (amount, unit), e.g. (2*n**3, "FLOP").
    work: tuple[float, str] | None = None
    note: str = ""
    # True when each impl returns its own measurement in seconds (e.g. the import time a
    # subprocess reports) instead of being timed by the harness.
    self_timed: bool = False
    # Extra per-impl values shown in the note column, e.g. {"dlx": "RSS 45 MB"}.
    extra: dict[str, str] = field(default_factory=dict)
    # Called after timing (e.g. to fill ``extra`` from values the impls collected).
    finalize: Callable[[Case], None] | None = None
    results: dict[str, float] = field(default_factory=dict)  # the chosen statistic
    medians: dict[str, float] = field(default_factory=dict)
    minima: dict[str, float] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)


def _time_once(fn: Callable[[], object], min_time: float) -> float:
    """Seconds per call, calling fn repeatedly for at least min_time."""
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed / calls


# OpenBLAS and OpenMP workers spin for about 0.1 s after a call; timing one library
# while another's pool still spins makes it look 2-10x slower (an OpenMP kernel timed within
# 0.1 s of a threaded OpenBLAS call ran 5-10x slower than on its own).
# On a loaded shared machine 0.15 s was not enough after torch ran (its intra-op pool and
# dlx's are two different OpenMP runtimes): settle longer, run two untimed warm-up calls
# after the pause, interleave more rounds, and keep the minimum next to the median.
SETTLE_S = 0.4
WARMUP_CALLS = 2


def run_case(case: Case, rounds: int = 7, min_time: float = 0.05, stat: str = "median") -> Case:
    """Warm up every implementation, then time them interleaved; store median and min.

    ``case.results`` holds the statistic ``stat`` ("median" or "min") used for ratios.
    """
    for fn in case.impls.values():
        fn()
    samples: dict[str, list[float]] = {k: [] for k in case.impls}
    for _ in range(rounds):
        for key, fn in case.impls.items():
            if case.self_timed:
                samples[key].append(float(fn()))  # type: ignore[arg-type]
                continue
            time.sleep(SETTLE_S)
            start = time.perf_counter()
            for _ in range(WARMUP_CALLS):  # wake the pools; skip the 2nd call if slow
                fn()
                if time.perf_counter() - start > min_time:
                    break
            samples[key].append(_time_once(fn, min_time))
    case.samples = samples
    case.medians = {k: statistics.median(v) for k, v in samples.items()}
    case.minima = {k: min(v) for k, v in samples.items()}
    case.results = case.minima if stat == "min" else case.medians
    if case.finalize is not None:
        case.finalize(case)
    return case


def torch_or_none():
    """The torch module when it is installed, else None (benchmarks then skip it)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def _si(x: float) -> str:
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= scale:
            return f"{x / scale:.1f} {prefix}"
    return f"{x:.1f} "


def format_table(cases: list[Case]) -> str:
    """A Markdown table: time per implementation (statistic, min), ratios against dlx.

    Ratios ``lib/dlx`` are time ratios: above 1 means dlx is faster. Cases whose work
    unit is "samples" also show samples/s for every implementation.
    """
    libs: list[str] = []
    for c in cases:
        libs.extend(k for k in c.results if k not in libs)
    others = [k for k in libs if k != "dlx"]
    head = [
        "case",
        *[f"{k} ms (min)" for k in libs],
        *[f"{k}/dlx" for k in others],
        "throughput",
        "note",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in cases:
        row = [c.name]
        row += [
            f"{c.results[k] * 1e3:.3f} ({c.minima.get(k, c.results[k]) * 1e3:.3f})"
            if k in c.results
            else ""
            for k in libs
        ]
        base = c.results.get("dlx")
        row += [f"{c.results[k] / base:.2f}x" if base and k in c.results else "" for k in others]
        if c.work and base:
            amount, unit = c.work
            if unit == "samples":
                row.append(
                    ", ".join(f"{k} {_si(amount / t)}samples/s" for k, t in c.results.items())
                )
            else:
                row.append(f"dlx {_si(amount / base)}{unit}/s")
        else:
            row.append("")
        notes = [c.note] if c.note else []
        notes += [f"{k}: {v}" for k, v in c.extra.items()]
        row.append("; ".join(notes))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def plot_ratios(cases: list[Case], path) -> str:
    """Bar chart of lib/dlx time ratios per case (log scale); returns a status message."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "--plot: matplotlib is not installed (pip install matplotlib); no chart drawn"
    libs: list[str] = []
    for c in cases:
        libs.extend(k for k in c.results if k != "dlx" and k not in libs)
    rows = [c for c in cases if "dlx" in c.results]
    if not rows or not libs:
        return "--plot: no case has dlx and another library; no chart drawn"
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.5))
    height = 0.8 / len(libs)
    for j, lib in enumerate(libs):
        ys = [i + j * height for i in range(len(rows))]
        vals = [
            c.results[lib] / c.results["dlx"] if lib in c.results else float("nan") for c in rows
        ]
        ax.barh(ys, vals, height=height, label=f"{lib} time / dlx time")
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks([i + 0.4 - height / 2 for i in range(len(rows))])
    ax.set_yticklabels([c.name for c in rows])
    ax.invert_yaxis()
    ax.set_xlabel("time ratio (> 1: dlx faster)")
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return f"chart written to {path}"


def iter_cases(modules, size: str) -> Iterator[Case]:
    for mod in modules:
        yield from mod.cases(size)
