"""Fuzz target: ``dlx.load_torch`` (PyTorch zip and legacy checkpoints) on arbitrary bytes.

The only allowed failure is :class:`dlx.io.TorchCheckpointError` (``UnsafeCheckpointError``
included); and since the reader resolves no global outside its allow list, no input can run
code, whatever the fuzzer builds.
"""

from __future__ import annotations

import os
import tempfile

from _harness import main

MODULES = ["dlx.io"]
_PATH = os.path.join(tempfile.mkdtemp(prefix="dlx-fuzz-"), "input.pt")


def one_input(data: bytes) -> None:
    from dlx.io import TorchCheckpointError, load_torch

    with open(_PATH, "wb") as f:
        f.write(data)
    try:
        load_torch(_PATH, numpy=True)
    except TorchCheckpointError:
        return


if __name__ == "__main__":
    main(one_input, MODULES)
