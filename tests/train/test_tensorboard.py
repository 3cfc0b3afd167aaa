"""TensorBoardLogger writes real event files: read back with TensorBoard's own event loader
(when the tensorboard package is installed) and with a TFRecord reader over tensorboardX's
protobuf classes (CRCs checked with tensorboardX's crc32c)."""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path

import numpy as np
import pytest

import dlx
import dlx.optim
from dlx import nn
from dlx.train import TensorBoardLogger, fit

pytest.importorskip(
    "tensorboardX", reason='tensorboardX is not installed (pip install "dlx[tensorboard]")'
)

HAVE_TENSORBOARD = importlib.util.find_spec("tensorboard") is not None


def _records(path: Path) -> list[bytes]:
    """The payloads of a TFRecord file, checking both masked CRC32C checksums."""
    from tensorboardX.crc32c import crc32c

    def masked(data: bytes) -> int:
        c = crc32c(data)
        return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF

    raw, out, pos = path.read_bytes(), [], 0
    while pos < len(raw):
        header = raw[pos : pos + 8]
        (length,) = struct.unpack("<Q", header)
        (crc_header,) = struct.unpack("<I", raw[pos + 8 : pos + 12])
        data = raw[pos + 12 : pos + 12 + length]
        (crc_data,) = struct.unpack("<I", raw[pos + 12 + length : pos + 16 + length])
        assert crc_header == masked(header), "header CRC"
        assert crc_data == masked(data), "data CRC"
        out.append(data)
        pos += 16 + length
    return out


def _events_tensorboardx(path: Path) -> list:
    from tensorboardX.proto.event_pb2 import Event

    events = []
    for data in _records(path):
        event = Event()
        event.ParseFromString(data)
        events.append(event)
    return events


def _events_tensorboard(path: Path) -> list:
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    return list(EventFileLoader(str(path)).Load())


def _collect(events) -> dict[str, dict]:
    """kind -> tag -> {step: value}: scalars as floats, histograms as (count, low, high),
    texts as str. tensorboardX writes scalars and histograms as their classic protos;
    TensorBoard's loader migrates them to tensors tagged with the plugin name."""
    out: dict[str, dict] = {"scalars": {}, "histograms": {}, "texts": {}}
    for event in events:
        for v in event.summary.value:
            kind, plugin = v.WhichOneof("value"), v.metadata.plugin_data.plugin_name
            tag = v.tag.removesuffix("/text_summary")
            if kind == "simple_value":
                out["scalars"].setdefault(tag, {})[event.step] = v.simple_value
            elif kind == "histo":
                h = v.histo
                out["histograms"].setdefault(tag, {})[event.step] = (h.num, h.min, h.max)
            elif kind == "tensor" and plugin == "scalars":
                out["scalars"].setdefault(tag, {})[event.step] = v.tensor.float_val[0]
            elif kind == "tensor" and plugin == "histograms":
                from tensorboard.util.tensor_util import make_ndarray

                buckets = make_ndarray(v.tensor).reshape(-1, 3)  # left, right, count
                count, low, high = buckets[:, 2].sum(), buckets[0, 0], buckets[-1, 1]
                out["histograms"].setdefault(tag, {})[event.step] = (count, low, high)
            elif kind == "tensor" and plugin == "text":
                text = b"".join(v.tensor.string_val).decode()
                out["texts"].setdefault(tag, {})[event.step] = text
    return out


def _run(tmp_path: Path, **kwargs) -> tuple[Path, object, object]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    dlx.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    logdir = tmp_path / "run"
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        dlx.optim.SGD(model.parameters(), lr=0.1),
        (x, y),
        epochs=3,
        batch_size=16,
        validation_split=0.25,
        verbose=0,
        callbacks=[TensorBoardLogger(logdir, **kwargs)],
    )
    (event_file,) = list(logdir.glob("events.out.tfevents.*"))
    return event_file, history, model


@pytest.mark.parametrize(
    "reader",
    [
        "tensorboardX",
        pytest.param(
            "tensorboard",
            marks=pytest.mark.skipif(
                not HAVE_TENSORBOARD, reason="tensorboard (its event loader) is not installed"
            ),
        ),
    ],
)
def test_event_file_holds_scalars_histograms_and_graph(tmp_path, reader):
    event_file, history, model = _run(tmp_path, input_shape=(4,))
    events = (_events_tensorboard if reader == "tensorboard" else _events_tensorboardx)(event_file)
    got = _collect(events)
    scalars = got["scalars"]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        assert scalars[f"epoch/{key}"].keys() == {1, 2, 3}
        np.testing.assert_allclose(
            [scalars[f"epoch/{key}"][e] for e in (1, 2, 3)], history.history[key], rtol=1e-6
        )
    assert sorted(scalars["step/loss"]) == list(range(1, 10))  # 48 samples / 16, 3 epochs
    hist = got["histograms"]
    for name, p in model.named_parameters():
        assert hist[f"weights/{name}"].keys() == {1, 2, 3}
        count, low, high = hist[f"weights/{name}"][3]
        values = np.asarray(p)
        assert count == values.size
        assert low <= values.min() + 1e-6
        assert high >= values.max() - 1e-6
        assert hist[f"gradients/{name}"][3][0] == values.size
    (text,) = got["texts"]["model/architecture"].values()
    assert "Linear" in text
    assert "Total params: 58" in text  # the summary table for input_shape (4,)


def test_update_and_histogram_frequency(tmp_path):
    event_file, _, _ = _run(tmp_path, update_freq=4, histogram_freq=2)
    got = _collect(_events_tensorboardx(event_file))
    assert sorted(got["scalars"]["step/loss"]) == [4, 8]
    assert got["histograms"]["weights/0.weight"].keys() == {2}
    (text,) = got["texts"]["model/architecture"].values()
    assert "Sequential" in text  # repr without an input shape


def test_arguments_are_checked(tmp_path):
    with pytest.raises(ValueError, match="`update_freq` must be a non-negative int"):
        TensorBoardLogger(tmp_path, update_freq=-1)
    with pytest.raises(ValueError, match="`histogram_freq` must be a non-negative int"):
        TensorBoardLogger(tmp_path, histogram_freq=1.5)
