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
    results: dict[str, float] = field(default_factory=dict)


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
# while another's pool still spins makes it look 2-10x slower (shared/BUILD-NOTES.md §4).
SETTLE_S = 0.15


def run_case(case: Case, rounds: int = 5, min_time: float = 0.05) -> Case:
    """Warm up every implementation, then time them interleaved; store medians."""
    for fn in case.impls.values():
        fn()
    samples: dict[str, list[float]] = {k: [] for k in case.impls}
    for _ in range(rounds):
        for key, fn in case.impls.items():
            time.sleep(SETTLE_S)
            fn()
            samples[key].append(_time_once(fn, min_time))
    case.results = {k: statistics.median(v) for k, v in samples.items()}
    return case


def torch_or_none():
    """The torch module when it is installed, else None (benchmarks then skip it)."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def format_table(cases: list[Case]) -> str:
    """A Markdown table: median time per implementation and ratios against dlx."""
    libs: list[str] = []
    for c in cases:
        libs.extend(k for k in c.results if k not in libs)
    others = [k for k in libs if k != "dlx"]
    head = ["case", *[f"{k} ms" for k in libs], *[f"{k}/dlx" for k in others], "dlx throughput"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in cases:
        row = [c.name]
        row += [f"{c.results[k] * 1e3:.3f}" if k in c.results else "" for k in libs]
        base = c.results.get("dlx")
        row += [
            f"{c.results[k] / base:.2f}x" if base and k in c.results else "" for k in others
        ]
        if c.work and base:
            amount, unit = c.work
            row.append(f"{amount / base / 1e9:.1f} G{unit}/s")
        else:
            row.append("")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def iter_cases(modules, size: str) -> Iterator[Case]:
    for mod in modules:
        yield from mod.cases(size)
