"""Hostile model files: architectures that ask for more than the file holds, and the
shape rules that let ``dlx.load`` refuse them before allocating anything."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

import numpy as np
import pytest

import dlx
from dlx import nn
from dlx.io import save_file
from dlx.io._shapes import state_shapes
from dlx.io.model import registry
from dlx.nn.modules._summary import MAX_FORWARD_ELEMENTS

# Instances of every registered layer class, covering the options that change its state.
SAMPLES = {
    "AbsReLU": [nn.AbsReLU()],
    "AdaptiveAvgPool2d": [nn.AdaptiveAvgPool2d((3, None))],
    "AdaptiveMaxPool2d": [nn.AdaptiveMaxPool2d(2, return_indices=True)],
    "AvgPool2d": [nn.AvgPool2d(2)],
    "Upsample": [
        nn.Upsample(scale_factor=2),
        nn.Upsample((4, 5), mode="bilinear", align_corners=True),
    ],
    "BCELoss": [nn.BCELoss(), nn.BCELoss(weight=np.ones(3, np.float32))],
    "BCEWithLogitsLoss": [
        nn.BCEWithLogitsLoss(),
        nn.BCEWithLogitsLoss(weight=np.ones(2), pos_weight=np.ones((2, 3))),
    ],
    "BatchNorm1d": [nn.BatchNorm1d(5), nn.BatchNorm1d(5, affine=False)],
    "BatchNorm2d": [nn.BatchNorm2d(3, track_running_stats=False), nn.BatchNorm2d(3)],
    "Conv2d": [
        nn.Conv2d(4, 6, 3),
        nn.Conv2d(4, 6, (3, 1), stride=2, padding=1, groups=2, bias=False),
        nn.Conv2d(4, 4, 5, padding="same", dilation=2, groups=4, dtype="float64"),
    ],
    "Conv1d": [
        nn.Conv1d(4, 6, 3),
        nn.Conv1d(4, 6, 2, stride=2, padding=1, groups=2, bias=False),
        nn.Conv1d(2, 2, 5, padding="same", dilation=2, dtype="float64"),
    ],
    "ConvTranspose2d": [
        nn.ConvTranspose2d(4, 6, 3),
        nn.ConvTranspose2d(4, 6, (3, 2), stride=2, padding=1, output_padding=1, groups=2),
        nn.ConvTranspose2d(2, 3, 2, bias=False, dilation=2, dtype="float64"),
    ],
    "CrossEntropyLoss": [nn.CrossEntropyLoss(), nn.CrossEntropyLoss(weight=np.ones(4))],
    "Dropout": [nn.Dropout(0.3)],
    "ELU": [nn.ELU()],
    "Embedding": [nn.Embedding(7, 3), nn.Embedding(5, 2, padding_idx=1, max_norm=1.0)],
    "Flatten": [nn.Flatten()],
    "GELU": [nn.GELU()],
    "GRU": [nn.GRU(3, 5), nn.GRU(3, 5, num_layers=2, bidirectional=True, bias=False)],
    "GRUCell": [nn.GRUCell(3, 4), nn.GRUCell(3, 4, bias=False)],
    "GaussianMixtureNLL": [nn.GaussianMixtureNLL()],
    "GroupNorm": [nn.GroupNorm(2, 4), nn.GroupNorm(3, 6, affine=False, dtype="float64")],
    "Hardtanh": [nn.Hardtanh()],
    "HuberLoss": [nn.HuberLoss()],
    "Identity": [nn.Identity()],
    "L1Loss": [nn.L1Loss()],
    "LSTM": [nn.LSTM(2, 3), nn.LSTM(2, 3, num_layers=3, bidirectional=True)],
    "LSTMCell": [nn.LSTMCell(2, 6)],
    "LayerNorm": [
        nn.LayerNorm(4),
        nn.LayerNorm((2, 3), bias=False),
        nn.LayerNorm([3], elementwise_affine=False),
    ],
    "LeakyReLU": [nn.LeakyReLU()],
    "Linear": [nn.Linear(3, 4), nn.Linear(0, 2, bias=False)],
    "LogSoftmax": [nn.LogSoftmax(1)],
    "MSELoss": [nn.MSELoss()],
    "MaxPool2d": [nn.MaxPool2d(2)],
    "Maxout": [nn.Maxout(2)],
    "ModuleDict": [nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.LayerNorm(2)})],
    "ParameterList": [
        nn.ParameterList([nn.Parameter(np.ones((2, 3), np.float32)), np.zeros(4)]),
        nn.ParameterList(),
    ],
    "ParameterDict": [nn.ParameterDict({"w": np.ones((3, 2), np.float32), "b": np.zeros(3)})],
    "ModuleList": [nn.ModuleList([nn.Linear(2, 2)])],
    "MultiheadAttention": [
        nn.MultiheadAttention(4, 2),
        nn.MultiheadAttention(6, 3, kdim=2, vdim=5, bias=False, batch_first=True),
    ],
    "NLLLoss": [nn.NLLLoss(), nn.NLLLoss(weight=np.ones(3))],
    "PReLU": [nn.PReLU(), nn.PReLU(7)],
    "RMSNorm": [nn.RMSNorm(4), nn.RMSNorm((2, 2), eps=1e-6, elementwise_affine=False)],
    "RNN": [nn.RNN(4, 2), nn.RNN(4, 2, num_layers=2, nonlinearity="relu", bidirectional=True)],
    "RNNCell": [nn.RNNCell(4, 2, nonlinearity="relu")],
    "ReLU": [nn.ReLU()],
    "Residual": [nn.Residual(nn.Linear(2, 2), nn.Linear(2, 2))],
    "Sequential": [nn.Sequential(nn.Linear(2, 3))],
    "SiLU": [nn.SiLU()],
    "Sigmoid": [nn.Sigmoid()],
    "Softmax": [nn.Softmax(1)],
    "Softplus": [nn.Softplus()],
    "Tanh": [nn.Tanh()],
    "Unflatten": [nn.Unflatten(1, (2, -1))],
    "TransformerEncoder": [nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2, 8), 2)],
    "TransformerEncoderLayer": [
        nn.TransformerEncoderLayer(4, 2, 8),
        nn.TransformerEncoderLayer(4, 1, 6, activation="gelu", bias=False, norm_first=True),
    ],
    "SmoothL1Loss": [nn.SmoothL1Loss(beta=0.5)],
    "KLDivLoss": [nn.KLDivLoss(reduction="batchmean", log_target=True)],
    "GaussianNLLLoss": [nn.GaussianNLLLoss(full=True)],
    "PoissonNLLLoss": [nn.PoissonNLLLoss(log_input=False)],
    "MarginRankingLoss": [nn.MarginRankingLoss(0.5)],
    "CosineEmbeddingLoss": [nn.CosineEmbeddingLoss(0.1)],
    "TripletMarginLoss": [nn.TripletMarginLoss(p=1.0, swap=True)],
}


def _own_state(module: nn.Module) -> dict[str, tuple[int, ...]]:
    """The module's own parameters and persistent buffers (no submodules)."""
    sd = module.state_dict()
    children = {name + "." for name, _ in module.named_children()}
    return {k: tuple(v.shape) for k, v in sd.items() if not k.startswith(tuple(children))}


def test_every_registered_layer_has_samples():
    assert set(registry()) == set(SAMPLES), "add the new layer class to SAMPLES"


@pytest.mark.parametrize(
    "module",
    [m for ms in SAMPLES.values() for m in ms],
    ids=lambda m: repr(m).split("\n")[0][:60],
)
def test_state_shapes_from_config_match_the_real_layer(module):
    assert state_shapes(type(module), module.get_config()) == _own_state(module)


def _write(path, arch, tensors):
    meta = {"format": "dlx-model", "version": 1, "arch": arch}
    save_file(tensors, path, metadata={"dlx": json.dumps(meta)})


@pytest.mark.parametrize(
    ("arch", "key"),
    [
        (
            {
                "class": "Conv2d",
                "config": {"in_channels": 4096, "out_channels": 4096, "kernel_size": 7},
            },
            "weight",
        ),
        ({"class": "Linear", "config": {"in_features": 16384, "out_features": 16384}}, "weight"),
        ({"class": "BatchNorm1d", "config": {"num_features": 150_000_000}}, "weight"),
        (
            {"class": "LSTM", "config": {"input_size": 8192, "hidden_size": 8192, "num_layers": 8}},
            "weight_ih_l0",
        ),
        ({"class": "PReLU", "config": {"num_parameters": 10**9}}, "weight"),
    ],
)
def test_allocation_bomb_is_refused_before_building(tmp_path, arch, key):
    """A tiny file naming a huge layer fails fast, naming the tensor, without allocating it."""
    path = tmp_path / "bomb.safetensors"
    _write(path, {"class": "Sequential", "config": {}, "children": {"0": arch}}, {})
    assert path.stat().st_size < 400
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(ValueError, match=rf"missing tensor\(s\) in the file: '0\.{key}'"):
        dlx.load(path)
    assert time.perf_counter() - start < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB


def test_shape_mismatch_names_the_key_and_both_shapes(tmp_path):
    arch = {"class": "Linear", "config": {"in_features": 4096, "out_features": 4096}}
    tensors = {"weight": np.zeros((4, 4), np.float32), "bias": np.zeros(4, np.float32)}
    _write(tmp_path / "m.safetensors", arch, tensors)
    with pytest.raises(ValueError, match=r"weight: the architecture needs shape \(4096, 4096\)"):
        dlx.load(tmp_path / "m.safetensors")


def test_unexpected_tensor_is_refused(tmp_path):
    arch = {"class": "ReLU", "config": {}}
    _write(tmp_path / "m.safetensors", arch, {"weight": np.zeros(3, np.float32)})
    with pytest.raises(ValueError, match=r"unexpected tensor\(s\) in the file: 'weight'"):
        dlx.load(tmp_path / "m.safetensors")


@pytest.mark.parametrize(
    "config",
    [
        {"in_channels": "4", "out_channels": 4, "kernel_size": 3},
        {"in_channels": 4, "out_channels": 4, "kernel_size": [3, 3, 3]},
        {"in_channels": 4, "out_channels": 4, "kernel_size": 3, "groups": 0},
        {"in_channels": -4, "out_channels": 4, "kernel_size": 3},
        {"out_channels": 4, "kernel_size": 3},
    ],
)
def test_bad_configs_are_refused_before_building(tmp_path, config):
    _write(tmp_path / "m.safetensors", {"class": "Conv2d", "config": config}, {})
    with pytest.raises(ValueError, match="cannot build `model` as Conv2d"):
        dlx.load(tmp_path / "m.safetensors")


def test_models_with_every_kind_of_state_round_trip(tmp_path):
    dlx.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.PReLU(4),
        nn.Residual(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1)), nn.Conv2d(4, 4, 1)),
        nn.Residual(nn.Identity()),
        nn.Flatten(),
        nn.Linear(4 * 8 * 8, 5),
    )
    dlx.save(model, tmp_path / "m.safetensors", input_shape=(1, 8, 8))
    back = dlx.load(tmp_path / "m.safetensors")
    for (k, a), (k2, b) in zip(model.state_dict().items(), back.state_dict().items(), strict=True):
        assert k == k2
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    rnn = nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    dlx.save(rnn, tmp_path / "r.safetensors")
    assert set(dlx.load(tmp_path / "r.safetensors").state_dict()) == set(rnn.state_dict())


def test_summary_refuses_a_huge_zeros_forward():
    lstm = nn.LSTM(4, 4)
    with pytest.raises(ValueError, match="has no output_shape"):
        lstm.summary((MAX_FORWARD_ELEMENTS, 4))


def _cli(tmp_path, *args):
    """``python -m dlx ...`` as a user types it (in a scratch directory, not the checkout)."""
    cmd = [sys.executable, "-P", "-m", "dlx", *map(str, args)]
    return subprocess.run(
        cmd, check=False, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )


def test_cli_summary_of_a_hostile_input_shape_fails_cleanly(tmp_path):
    model = nn.Sequential(nn.Linear(4, 4), nn.LSTM(4, 4))
    path = tmp_path / "m.safetensors"
    dlx.save(model, path, input_shape=(10**9, 4))
    proc = _cli(tmp_path, "summary", path)
    assert proc.returncode != 0
    assert "has no output_shape" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_cli_summary_of_an_allocation_bomb_fails_fast(tmp_path):
    arch = {"class": "Linear", "config": {"in_features": 16384, "out_features": 16384}}
    _write(tmp_path / "b.safetensors", arch, {"weight": np.zeros(1, np.float32)})
    start = time.perf_counter()
    proc = _cli(tmp_path, "summary", tmp_path / "b.safetensors")
    assert proc.returncode != 0
    assert "needs shape (16384, 16384)" in proc.stderr
    assert time.perf_counter() - start < 30
