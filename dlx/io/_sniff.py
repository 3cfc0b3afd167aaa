"""What kind of file is this? A name for the format, from the first bytes only.

Used in error messages, so a file dlx cannot read as asked says what it is and which
function reads it (a PyTorch checkpoint given to the safetensors reader, and so on).
"""

from __future__ import annotations

import os
import struct

from dlx.io._files import open_regular

__all__ = ["describe", "sniff"]

ZIP = "zip"
PICKLE = "pickle"
SAFETENSORS = "safetensors"

_OTHERS = (
    (b"\x93NUMPY", "a NumPy .npy file (read it with numpy.load(path, allow_pickle=False))"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (e.g. Keras .h5), which dlx does not read"),
    (b"\x1f\x8b", "a gzip-compressed file; decompress it first"),
    (b"ONNX", "an ONNX model, which dlx does not read"),
)


def sniff(head: bytes) -> str | None:
    """``"zip"``, ``"pickle"``, ``"safetensors"`` or None, from the first 16 bytes."""
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return ZIP
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return PICKLE
    if len(head) >= 9:
        (n,) = struct.unpack("<Q", head[:8])
        if 2 <= n <= 100_000_000 and head[8:9] == b"{":
            return SAFETENSORS
    return None


def describe(head: bytes) -> str | None:
    """A sentence naming the format and the dlx function that reads it, or None."""
    kind = sniff(head)
    if kind == ZIP:
        return (
            "this is a zip archive: a PyTorch checkpoint (torch.save) if it holds data.pkl; "
            "read it with dlx.load_torch(path)"
        )
    if kind == PICKLE:
        return (
            "this is a Python pickle: a legacy PyTorch checkpoint (torch.save with "
            "_use_new_zipfile_serialization=False); read it with dlx.load_torch(path)"
        )
    if kind == SAFETENSORS:
        return "this is a safetensors file; read it with dlx.load or dlx.load_state_dict_file"
    for magic, text in _OTHERS:
        if head.startswith(magic):
            return "this is " + text
    return None


def read_head(path: str | os.PathLike[str], what: str = "file") -> bytes:
    """The first 16 bytes of the regular file ``path``."""
    with open_regular(path, what) as f:
        return f.read(16)
