"""Safe file formats: safetensors read/write in pure Python + NumPy, and atomic writes.

Nothing here unpickles or evaluates file contents. Import it explicitly::

    from dlx.io import load_file, save_file
"""

from __future__ import annotations

from dlx.io.atomic import atomic_write
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
    "atomic_write",
    "load_bytes",
    "load_file",
    "read_index",
    "read_metadata",
    "save_bytes",
    "save_file",
]
