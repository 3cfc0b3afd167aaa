"""Fuzz target: the safetensors reader on arbitrary bytes (in memory and as a file)."""

from __future__ import annotations

import os
import tempfile

from _harness import main

MODULES = ["dlx.io"]
_PATH = os.path.join(tempfile.mkdtemp(prefix="dlx-fuzz-"), "input.safetensors")


def one_input(data: bytes) -> None:
    from dlx.io import SafetensorsError, load_bytes, load_file

    try:
        tensors = load_bytes(data)
    except SafetensorsError:
        return
    # A blob the parser accepts must read identically from a file, mapped or not.
    with open(_PATH, "wb") as f:
        f.write(data)
    for mmap in (False, True):
        again = load_file(_PATH, mmap=mmap)
        assert list(again) == list(tensors)
        for name, arr in tensors.items():
            assert again[name].shape == arr.shape
            assert again[name].dtype == arr.dtype
            assert again[name].tobytes() == arr.tobytes()


if __name__ == "__main__":
    main(one_input, MODULES)
