"""Regenerate the seed corpora in ``corpus/`` (run it after a format change):

    python tests/fuzz/make_corpus.py

Seeds are small valid inputs of each target, plus a few near misses; the fuzzer mutates
them. The files are kept in the repository so every CI run starts from the same place.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _write(target: str, name: str, data: bytes) -> None:
    folder = HERE / "corpus" / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def safetensors_seeds() -> None:
    from dlx.io import save_bytes

    rng = np.random.default_rng(0)
    _write("safetensors", "empty", save_bytes({}))
    _write("safetensors", "one_f32", save_bytes({"w": rng.random((2, 3), np.float32)}))
    mixed = {
        "f64": np.arange(3.0),
        "f16": np.ones(2, np.float16),
        "i64": np.array([1, -2], np.int64),
        "u8": np.arange(4, dtype=np.uint8),
        "b": np.array([True, False]),
        "scalar": np.array(1.5, np.float32),
        "none": np.zeros((0, 4), np.float32),
    }
    _write("safetensors", "mixed_meta", save_bytes(mixed, metadata={"k": "v", "dlx": "{}"}))
    blob = save_bytes({"w": np.ones(4, np.float32)})
    _write("safetensors", "truncated", blob[:-3])
    _write("safetensors", "bf16", blob.replace(b'"F32"', b'"BF16"').replace(b"[4]", b"[8]"))


def model_seeds(tmp: str) -> None:
    import dlx
    from dlx import nn

    dlx.manual_seed(0)
    models = {
        "mlp": nn.Sequential(nn.Flatten(), nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)),
        "cnn": nn.Sequential(
            nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.PReLU(2), nn.MaxPool2d(2)
        ),
        "residual": nn.Sequential(nn.Residual(nn.Linear(2, 2), nn.Linear(2, 2)), nn.Dropout()),
        "lstm": nn.LSTM(2, 3, num_layers=2, bidirectional=True),
    }
    for name, model in models.items():
        path = os.path.join(tmp, name)
        dlx.save(model, path, input_shape=(1, 4, 4) if name == "cnn" else None)
        data = Path(path).read_bytes()
        _write("model", f"{name}_file", b"\x00" + data)
        meta = json.loads(dlx.io.read_metadata(path)["dlx"])
        _write("model", f"{name}_arch", b"\x01" + json.dumps(meta).encode())


def checkpoint_seeds(tmp: str) -> None:
    import dlx
    import dlx.optim
    from dlx import nn
    from dlx.train import save_checkpoint

    dlx.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    opt = dlx.optim.Adam(model.parameters(), lr=0.01)
    sched = dlx.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    loader = dlx.data.DataLoader(dlx.data.TensorDataset(np.zeros((4, 3))), batch_size=2)
    model(dlx.randn(4, 3)).sum().backward()
    opt.step()
    path = os.path.join(tmp, "ckpt")
    save_checkpoint(path, model, opt, sched, epoch=1, step=1, loader=loader, extra={"a": [1]})
    _write("checkpoint", "full_file", b"\x00" + Path(path).read_bytes())
    meta = dlx.io.read_metadata(path)["dlx-checkpoint"]
    _write("checkpoint", "full_meta", b"\x01" + meta.encode())
    minimal = {"format": "dlx-checkpoint", "version": 1, "epoch": 0}
    _write("checkpoint", "minimal_meta", b"\x01" + json.dumps(minimal).encode())


def torch_seeds() -> None:
    """PyTorch checkpoints crafted without torch (tests/_support/torch_pickles.py): zip and legacy."""
    import io
    import pickle
    import struct
    import sys

    sys.path.insert(0, str(HERE.parent / "_support"))
    import torch_pickles as tp

    s = tp.StorageRef("0", 12)
    obj = tp.ORDERED(
        [
            ("a", tp.tensor(s, (3, 4), (4, 1))),
            ("b", tp.tensor(s, (2, 2), (1, 4), 1)),
            ("p", tp.PARAMETER(tp.tensor(tp.StorageRef("1", 3, "LongStorage"), (3,), (1,)), False)),
        ]
    )
    pkl = tp.dumps(obj)
    f32, i64 = np.arange(12, dtype="<f4").tobytes(), np.arange(3, dtype="<i8").tobytes()
    _write("torch", "zip", tp.zip_checkpoint(pkl, {"0": f32, "1": i64}))
    legacy = io.BytesIO()
    for header in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
        pickle.dump(header, legacy, protocol=2)
    legacy.write(pkl)
    pickle.dump(["0", "1"], legacy, protocol=2)
    legacy.write(struct.pack("<q", 12) + f32 + struct.pack("<q", 3) + i64)
    _write("torch", "legacy", legacy.getvalue())
    evil = tp.dumps(tp.Global("os", "system")("true"))
    _write("torch", "os_system", tp.zip_checkpoint(evil, {}))
    _write("torch", "truncated", tp.zip_checkpoint(pkl, {"0": f32, "1": i64})[:-40])


def kernel_seeds() -> None:
    rng = np.random.default_rng(0)
    for i in range(8):
        _write("kernels", f"random_{i}", rng.integers(0, 256, 64 * (i + 1), np.uint8).tobytes())


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        safetensors_seeds()
        model_seeds(tmp)
        checkpoint_seeds(tmp)
        torch_seeds()
        kernel_seeds()
