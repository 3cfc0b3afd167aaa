"""Shared runner of the fuzz targets in this directory (atheris, coverage-guided).

Each ``fuzz_*.py`` defines ``one_input(data: bytes)``, which must either return or raise
one of the exceptions the API documents for bad input (its ``ALLOWED``). Anything else, a
different exception, a crash, a hang or an out-of-memory, is a finding:

    python tests/fuzz/fuzz_safetensors.py -max_total_time=30 /tmp/new tests/fuzz/corpus/safetensors

``.ci/fuzz`` runs every target like that; ``tests/io/test_fuzz_corpus.py`` replays the stored
corpora under plain pytest (no atheris needed).
"""

from __future__ import annotations

import sys
from collections.abc import Callable


def main(one_input: Callable[[bytes], None], modules: list[str]) -> None:
    """Run ``one_input`` under atheris, the dlx ``modules`` it exercises instrumented.

    Coverage of dlx's Python code (every function and method of the loaded dlx modules)
    guides the fuzzer.
    """
    import importlib

    import atheris

    for name in modules:
        importlib.import_module(name)
    # instrument_imports misses modules an editable install loads through its own finder;
    # instrumenting the loaded dlx functions afterwards works for every kind of install.
    for mod_name, mod in list(sys.modules.items()):
        if mod_name == "dlx" or mod_name.startswith("dlx."):
            _instrument_module(atheris, mod)
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


def write_input(data: bytes, path: str, meta_key: str, tensors: Callable[[str], dict]) -> bool:
    """Write the file one input describes to ``path``; False for an empty input.

    The first byte picks the mode: even, the rest is the whole file; odd, the rest is the
    metadata JSON stored under ``meta_key`` next to ``tensors(text)``, so that mutations
    of the JSON meet well-formed tensors.
    """
    from dlx.io import save_file

    if not data:
        return False
    if data[0] % 2 == 0:
        with open(path, "wb") as f:
            f.write(data[1:])
    else:
        text = data[1:].decode("utf-8", errors="replace")
        save_file(tensors(text), path, metadata={meta_key: text})
    return True


def _instrument_module(atheris, mod) -> None:
    """Instrument every Python function and method defined in ``mod`` (in place)."""
    import inspect

    for value in list(vars(mod).values()):
        if inspect.isfunction(value) and value.__module__ == mod.__name__:
            atheris.instrument_func(value)
        elif inspect.isclass(value) and value.__module__ == mod.__name__:
            for attr in vars(value).values():
                fn = getattr(attr, "__func__", attr)
                if inspect.isfunction(fn):
                    atheris.instrument_func(fn)
