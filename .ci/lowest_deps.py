"""Print pip constraints pinning every dependency in pyproject.toml to its lower bound.

    python .ci/lowest_deps.py [pyproject.toml] [extra ...]  > lowest.txt
    python .ci/lowest_deps.py --build-requires [pyproject.toml]   # names, for pip install

Covers the build requirements, the runtime dependencies and the named extras (default:
test, mpi, tensorboard). Every requirement must have a ``>=`` lower bound: one without
fails here, so no bound is left untested.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")
EXTRAS = ("test", "mpi", "tensorboard")


def lower_bounds(pyproject: Path, extras: tuple[str, ...] = EXTRAS) -> dict[str, str]:
    """``{name: lowest version}`` for every build, runtime and extra requirement."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    reqs = list(data["build-system"]["requires"]) + list(data["project"]["dependencies"])
    optional = data["project"].get("optional-dependencies", {})
    for extra in extras:
        reqs += optional[extra]
    out: dict[str, str] = {}
    for req in reqs:
        match = REQ.match(req.split(";")[0])
        if match is None:
            sys.exit(f"cannot parse requirement {req!r}")
        name, spec = match.group(1).lower().replace("_", "-"), match.group(3)
        bound = re.search(r">=\s*([0-9][0-9A-Za-z.]*)", spec)
        if bound is None:
            sys.exit(f"{req!r} has no lower bound (>=): add the lowest version that works")
        out[name] = max(out.get(name, "0"), bound.group(1), key=_version_key)
    return out


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", v))


def build_requirement_names(pyproject: Path) -> list[str]:
    """The names in ``[build-system] requires`` (to install before a no-isolation build)."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    names = []
    for req in data["build-system"]["requires"]:
        match = REQ.match(req.split(";")[0])
        if match is not None:
            names.append(match.group(1))
    return names


def main(argv: list[str]) -> int:
    if argv[:1] == ["--build-requires"]:
        path = Path(argv[1]) if len(argv) > 1 else Path("pyproject.toml")
        print(" ".join(build_requirement_names(path)))
        return 0
    path = Path(argv[0]) if argv else Path("pyproject.toml")
    extras = tuple(argv[1:]) or EXTRAS
    for name, version in sorted(lower_bounds(path, extras).items()):
        print(f"{name}=={version}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
