"""Fuzz target: ``dlx.load`` on hostile model files.

The first byte picks the mode: even, the rest is a whole file; odd, the rest is the
architecture JSON, stored with zero tensors of the shapes it asks for (when they are
small), so inputs also get past the shape check into the layer constructors.
"""

from __future__ import annotations

import json
import math
import os
import tempfile

from _harness import main, write_input

MODULES = ["dlx.io.model", "dlx.nn"]
_PATH = os.path.join(tempfile.mkdtemp(prefix="dlx-fuzz-"), "model.safetensors")
_MAX_ELEMENTS = 100_000


def _tensors_for(text: str) -> dict:
    """Zero tensors matching the architecture's parameter shapes, or {} if none can be had."""
    import numpy as np

    from dlx.io.model import _expected_state, _parse

    try:
        info = json.loads(text)
        shapes = _expected_state(_parse(info["arch"], "model", 0, [0]), "")
    except (ValueError, TypeError, KeyError, RecursionError):
        return {}
    if sum(math.prod(s) for s in shapes.values()) > _MAX_ELEMENTS:
        return {}
    return {k: np.zeros(s, np.float32) for k, s in shapes.items()}


def one_input(data: bytes) -> None:
    import dlx

    if not write_input(data, _PATH, "dlx", _tensors_for):
        return
    try:
        model = dlx.load(_PATH)
    except ValueError:  # SafetensorsError and StateDictError are ValueErrors
        return
    assert model.state_dict().keys() == dlx.io.load_file(_PATH).keys()


if __name__ == "__main__":
    main(one_input, MODULES)
