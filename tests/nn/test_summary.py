"""Module.summary: Keras-style table, exact parameter totals, shape inference without kernels."""

from __future__ import annotations

import numpy as np
import pytest

import dlx
from dlx import nn

VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def vgg16(num_classes: int = 1000) -> nn.Sequential:
    layers: list[nn.Module] = []
    c = 3
    for v in VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=True)]
            c = v
    features = nn.Sequential(*layers)
    classifier = nn.Sequential(
        nn.Linear(512 * 7 * 7, 4096),
        nn.ReLU(),
        nn.Dropout(),
        nn.Linear(4096, 4096),
        nn.ReLU(),
        nn.Dropout(),
        nn.Linear(4096, num_classes),
    )
    return nn.Sequential(features, nn.Flatten(), classifier)


def test_summary_vgg16_reports_exact_parameter_count():
    model = vgg16()
    text = model.summary((3, 224, 224))
    assert "Total params: 138,357,544" in text
    assert "Trainable params: 138,357,544" in text
    assert "Non-trainable params: 0" in text
    assert "0.0 (Conv2d)" in text
    assert "(None, 64, 224, 224)" in text
    assert "0.30 (MaxPool2d)" in text
    assert "(None, 512, 7, 7)" in text
    assert "1 (Flatten)" in text
    assert "(None, 25088)" in text
    assert "2.6 (Linear)" in text
    assert "(None, 1000)" in text
    assert "102,764,544" in text  # the first classifier layer
    assert sum(1 for line in text.splitlines() if "(Conv2d)" in line) == 13


def test_summary_xor_net_reports_33():
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 1))
    text = model.summary((2,))
    assert "Total params: 33" in text
    lines = text.splitlines()
    assert lines[0] == 'Model: "Sequential"'
    row = next(line for line in lines if line.startswith("0 (Linear)"))
    assert "(None, 8)" in row
    assert row.endswith("24")


def test_summary_non_trainable_and_buffers():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.PReLU(4))
    model[0].weight.requires_grad_(False)
    text = model.summary((1, 8, 8))
    assert "Total params: 52" in text  # 36 + 4 + 8 + 4 (buffers are not parameters)
    assert "Trainable params: 16" in text
    assert "Non-trainable params: 36" in text


class TwoBranch(nn.Module):
    """A custom module without output_shape: summary falls back to one real forward."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(4, 3)
        self.b = nn.Linear(4, 3)
        self.scale = nn.Parameter(np.ones(3, np.float32))

    def forward(self, x):
        return (self.a(x) + self.b(x)) * self.scale


def test_summary_falls_back_to_forward_for_custom_modules():
    model = nn.Sequential(
        nn.Linear(5, 4), TwoBranch(), nn.Residual(nn.Sequential(nn.Linear(3, 3), nn.Tanh()))
    )
    text = model.summary(5)
    assert "1 (TwoBranch)" in text
    assert "1.a (Linear)" in text
    assert "1.b (Linear)" in text
    assert "2 (Residual)" in text
    assert "2.block.0 (Linear)" in text
    assert f"Total params: {24 + 15 + 15 + 3 + 12}" in text
    assert not any(h for m in model.modules() for h in m._forward_hooks)  # hooks removed
    assert model[0].weight.grad is None


def test_summary_wrong_input_shape_names_layer():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Flatten(), nn.Linear(10, 2))
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8.*got input of shape \(1, 1, 8, 8\)"):
        model.summary((1, 8, 8))
    with pytest.raises(ValueError, match=r"Linear\(in_features=10.*\(1, 288\)"):
        model.summary((3, 8, 8))


def test_summary_dtype_float64_forward_fallback():
    model = nn.Sequential(TwoBranch()).double()
    assert "Total params: 33" in model.summary((4,), dtype=dlx.float64)
