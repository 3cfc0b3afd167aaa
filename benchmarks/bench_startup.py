"""Start-up cost: ``import dlx`` (vs ``import torch``) time and resident memory, in a fresh
interpreter each round, and the installed size of the dlx package.

Each impl starts ``python -c`` and the child reports its own import time (perf_counter
around the import) and its VmRSS after the import, so interpreter start-up is excluded
from the time but included in the RSS (the bare interpreter's RSS is shown in the note).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from harness import Case

_CHILD = """
import time, json
t = time.perf_counter()
{stmt}
dt = time.perf_counter() - t
rss = 0
for line in open("/proc/self/status"):
    if line.startswith("VmRSS:"):
        rss = int(line.split()[1]) / 1024
print(json.dumps([dt, rss]))
"""


def _measure(stmt: str, rss: list[float]):
    def run() -> float:
        out = subprocess.run(
            # -P: never import the checkout's dlx/ (no compiled _core) from the cwd.
            [sys.executable, "-P", "-c", _CHILD.format(stmt=stmt)],
            check=True,
            capture_output=True,
            text=True,
            env=os.environ.copy(),
        )
        dt, mb = json.loads(out.stdout.strip().splitlines()[-1])
        rss.append(mb)
        return dt

    return run


def _dir_size_mb(path: Path) -> float:
    total = 0
    for p in path.rglob("*"):
        if p.is_file() and "__pycache__" not in p.parts:
            total += p.stat().st_size
    return total / 2**20


def installed_size_mb() -> tuple[float, float]:
    """(package directory plus _core, without caches; _core extension alone) in MB.

    In an editable install _core lives in the build directory; it is added in either case.
    """
    import dlx
    from dlx._native import _core

    pkg_dir = Path(dlx.__file__).resolve().parent
    core_path = Path(_core.__file__).resolve()
    core = core_path.stat().st_size / 2**20
    total = _dir_size_mb(pkg_dir)
    if pkg_dir not in core_path.parents:
        total += core
    return total, core


def cases(size: str):
    stmts = {"dlx": "import dlx"}
    try:
        import importlib.util

        if importlib.util.find_spec("torch") is not None:
            stmts["torch"] = "import torch"
    except ImportError:
        pass
    rss: dict[str, list[float]] = {k: [] for k in stmts}
    case = Case(
        "import time (fresh process)",
        {k: _measure(s, rss[k]) for k, s in stmts.items()},
        self_timed=True,
    )
    total, core = installed_size_mb()
    bare: list[float] = []
    _measure("pass", bare)()
    case.note = (
        f"dlx installed {total:.1f} MB (_core {core:.1f} MB; no __pycache__); "
        f"bare interpreter RSS {bare[0]:.1f} MB"
    )

    def finalize(c: Case) -> None:
        c.extra = {k: f"RSS {min(v):.1f} MB" for k, v in rss.items() if v}

    case.finalize = finalize
    yield case
