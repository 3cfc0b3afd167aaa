"""Peak memory of a large im2col convolution, and its time, at 1 and 2 threads.

A 7x7 stride-2 convolution over 512x512 images (not a stride-1 'same' one, so it runs
im2col + GEMM rather than the implicit GEMM) would unfold 1568 x 65536 float32 columns,
411 MB, per image and per thread. dlx unfolds a band of output rows at a time, at most
32 MB per thread (``kColumnBudgetBytes`` in csrc/im2col.h). Each round runs in a fresh
interpreter that reports the growth of its peak RSS (``VmHWM``) over its first call,
which includes the 32 MB output (the note shows the median per library), and the time of
a second call.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

from harness import Case, torch_or_none

_CHILD = """
import json, time
import numpy as np

def peak_mb():  # VmHWM: this process's peak RSS (ru_maxrss also counts the parent's at fork)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
{setup}
x = np.ones(({n}, 32, {hw}, {hw}), np.float32)
w = np.ones((32, 32, 7, 7), np.float32) / 1568
before = peak_mb()
call()  # the first call: every workspace is new
grown = peak_mb() - before
t = time.perf_counter()
call()  # timed warm
print(json.dumps([time.perf_counter() - t, grown]))
"""
_SETUP = {
    "dlx": "import dlx\nfrom dlx import _core\ndlx.set_num_threads({threads})\n"
    "call = lambda: _core.conv2d_forward(x, w, None, 2, 3)",
    "torch": "import torch\ntorch.set_num_threads({threads})\n"
    "call = lambda: torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), "
    "None, 2, 3)",
}


def _measure(lib: str, threads: int, n: int, hw: int, grown: list[float]):
    setup = _SETUP[lib].format(threads=threads)
    code = _CHILD.format(setup=setup, n=n, hw=hw)

    def run() -> float:
        out = subprocess.run(
            [sys.executable, "-P", "-c", code],
            check=True,
            capture_output=True,
            text=True,
            env=os.environ.copy(),
        )
        dt, mb = json.loads(out.stdout.strip().splitlines()[-1])
        grown.append(mb)
        return dt

    return run


def cases(size: str):
    n, hw = (2, 256) if size == "small" else (4, 512)
    libs = ["dlx"] + (["torch"] if torch_or_none() else [])
    for threads in (1, 2):
        grown: dict[str, list[float]] = {lib: [] for lib in libs}

        def finalize(case: Case, grown: dict[str, list[float]] = grown) -> None:
            for lib, values in grown.items():
                if values:
                    case.extra[lib] = f"peak RSS +{statistics.median(values):.0f} MB"

        yield Case(
            f"conv2d 7x7/2 {n}x32x{hw}x{hw} fwd peak memory, {threads} thread(s)",
            {lib: _measure(lib, threads, n, hw, grown[lib]) for lib in libs},
            self_timed=True,
            note="fresh process per round; im2col columns bounded per thread",
            finalize=finalize,
        )
