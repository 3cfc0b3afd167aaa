"""Safe file formats: safetensors read/write in pure Python + NumPy, PyTorch checkpoints
read through a restricted unpickler (:func:`load_torch`), and atomic writes.

Nothing here evaluates file contents or resolves a global outside a fixed allow list. Import it explicitly::

    from dlx.io import load_file, save_file
"""

from __future__ import annotations

from dlx.io.atomic import atomic_write
from dlx.io.pytorch import TorchCheckpointError, UnsafeCheckpointError, load_torch
from dlx.io.safetensors import (
    MAX_HEADER_SIZE,
    SafetensorsError,
    load_bytes,
    load_file,
    read_index,
    read_metadata,
    save_bytes,
    save_file,
)

__all__ = [
    "MAX_HEADER_SIZE",
    "SafetensorsError",
    "TorchCheckpointError",
    "UnsafeCheckpointError",
    "atomic_write",
    "load_bytes",
    "load_file",
    "load_torch",
    "read_index",
    "read_metadata",
    "save_bytes",
    "save_file",
]
