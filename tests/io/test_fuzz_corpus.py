"""Replay the fuzz targets' stored corpora (tests/fuzz/corpus) under plain pytest, so every
test run checks that each seed and each past finding is handled cleanly."""

from __future__ import annotations

import importlib.util
import sys

import pytest
import repo_paths

FUZZ = repo_paths.FUZZ
TARGETS = ["safetensors", "model", "checkpoint", "torch", "kernels"]


def _target(name: str):
    sys.path.insert(0, str(FUZZ))
    try:
        spec = importlib.util.spec_from_file_location(f"fuzz_{name}", FUZZ / f"fuzz_{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(FUZZ))
    return module


@pytest.mark.parametrize("name", TARGETS)
def test_fuzz_corpus_replays_cleanly(name):
    if name == "kernels":
        pytest.importorskip("atheris", reason="the kernel target decodes inputs with atheris")
    target = _target(name)
    files = sorted((FUZZ / "corpus" / name).iterdir())
    assert files, f"empty corpus for {name}"
    for path in files:
        target.one_input(path.read_bytes())
