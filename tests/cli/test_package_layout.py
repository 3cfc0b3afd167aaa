"""The package's shape: no import cycle between subpackages, the files the metadata promises
(LICENSE, py.typed), and no reference to files the repository does not have."""

from __future__ import annotations

import ast
import importlib.resources
import itertools
import re
from pathlib import Path

import pytest
import repo_paths

ROOT = repo_paths.ROOT
PACKAGE = ROOT / "dlx"
in_checkout = pytest.mark.skipif(
    not (ROOT / "pyproject.toml").is_file(), reason="needs the source checkout"
)


def import_graph(package: Path) -> dict[tuple[str, str], set[str]]:
    """Edges ``(subpackage, subpackage) -> files`` of every absolute ``dlx.*`` import.

    Read statically with ast, so imports inside functions count too (a lazy import is
    still a dependency). Top-level modules (``dlx/tensor.py`` ...) are the core every
    subpackage may use and are not nodes.
    """
    subs = {p.parent.name for p in package.glob("*/__init__.py")}
    edges: dict[tuple[str, str], set[str]] = {}
    for path in package.rglob("*.py"):
        parts = path.relative_to(package).parts
        if len(parts) < 2:
            continue
        src = parts[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                bits = name.split(".")
                if bits[0] == "dlx" and len(bits) > 1 and bits[1] in subs and bits[1] != src:
                    edges.setdefault((src, bits[1]), set()).add(str(path.relative_to(ROOT)))
    return edges


def find_cycle(edges: dict[tuple[str, str], set[str]]) -> list[str] | None:
    """One cycle of the directed graph as a node list (first == last), or None."""
    succ: dict[str, list[str]] = {}
    for a, b in edges:
        succ.setdefault(a, []).append(b)
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(succ.get(node, [])):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(succ):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


@in_checkout
def test_no_import_cycle_between_subpackages():
    edges = import_graph(PACKAGE)
    assert ("train", "distributed") in edges  # the walk sees fit's MPI support
    cycle = find_cycle(edges)
    if cycle is not None:
        hops = [
            f"{a} -> {b} ({', '.join(sorted(edges[(a, b)]))})" for a, b in itertools.pairwise(cycle)
        ]
        pytest.fail("import cycle between subpackages: " + "; ".join(hops))


def test_find_cycle_reports_a_cycle():
    edges = {("a", "b"): {"x"}, ("b", "c"): {"y"}, ("c", "a"): {"z"}, ("c", "d"): {"w"}}
    assert find_cycle(edges) == ["a", "b", "c", "a"]
    assert find_cycle({("a", "b"): {"x"}, ("b", "c"): {"y"}}) is None


@in_checkout
def test_callbacks_and_fit_use_only_the_public_distributed_api():
    for path in (PACKAGE / "train").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "distributed._" not in text, f"{path.name} imports a private dlx.distributed module"
        assert '__name__ == "LBFGS"' not in text, f"{path.name} checks the optimiser by name"


def test_py_typed_marker_is_installed():
    assert importlib.resources.files("dlx").joinpath("py.typed").is_file()


@in_checkout
def test_license_file_matches_the_metadata():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License")
    assert 'license = { text = "MIT" }' in (ROOT / "pyproject.toml").read_text()


@in_checkout
def test_no_reference_to_missing_repository_files():
    """CMakeLists names dlx/*.py files that exist; nothing cites BUILD-NOTES (not in the repo)."""
    cmake = (ROOT / "CMakeLists.txt").read_text(encoding="utf-8")
    for name in re.findall(r"dlx/[\w/]+\.pyx?\b", cmake):
        assert (ROOT / name).is_file(), f"CMakeLists.txt names {name}, which does not exist"
    for path in [*ROOT.glob("*.md"), *ROOT.glob("benchmarks/*.py"), *ROOT.glob("csrc/*.h")]:
        assert "BUILD-NOTES" not in path.read_text(encoding="utf-8"), path.name


TEST_SUBJECTS = {"kernels", "autograd", "nn", "optim", "train", "data", "io", "distributed", "cli"}


def test_tests_live_in_subject_folders():
    """Tests are grouped by subject (tests/<subject>/test_*.py), helpers in tests/_support."""
    tests = ROOT / "tests"
    loose = sorted(p.name for p in tests.glob("*.py") if p.name != "conftest.py")
    assert loose == [], f"move these into a subject folder or tests/_support: {loose}"
    folders = {p.name for p in tests.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))}
    assert folders <= TEST_SUBJECTS | {"_support", "fuzz"}, sorted(folders - TEST_SUBJECTS)
    support = {p.name for p in (tests / "_support").glob("test_*.py")}
    assert support == set(), f"tests/_support holds helpers, not tests: {sorted(support)}"
