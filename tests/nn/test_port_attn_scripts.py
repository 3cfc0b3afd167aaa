"""Two PyTorch scripts run unchanged on dlx except for their imports.

Each script is one source text, executed twice: as written (torch) and with its import
lines replaced by ``import dlx as torch`` etc. The dlx model starts from the torch model's
state_dict, both train on the same batches, and their losses must agree step by step.
"""

from __future__ import annotations

import numpy as np
import pytest

TORCH_IMPORTS = """\
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
"""
DLX_IMPORTS = """\
import dlx as torch
import dlx.nn as nn
import dlx.nn.functional as F
import dlx.optim as optim
"""

AUTOENCODER = """
class AutoEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 8, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1, output_padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(8, 1, 4, stride=2, padding=1),
            nn.Sigmoid(),
        )

    def forward(self, x):
        return self.decoder(self.encoder(x))


def make_model():
    return AutoEncoder()


def train(model, images, steps):
    opt = optim.Adam(model.parameters(), lr=1e-2)
    x = torch.tensor(images)
    losses = []
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        loss = F.mse_loss(model(x), x)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses
"""

CLASSIFIER = """
class Classifier(nn.Module):
    def __init__(self, features=6, d_model=16, classes=3):
        super().__init__()
        self.embed = nn.Linear(features, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model, nhead=4, dim_feedforward=32, dropout=0.0, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=2)
        self.head = nn.Linear(d_model, classes)

    def forward(self, x, padding):
        h = self.encoder(self.embed(x), src_key_padding_mask=padding)
        return self.head(h.mean(dim=1))


def make_model():
    return Classifier()


def train(model, data, steps):
    x_np, pad_np, y_np = data
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, pad, y = torch.tensor(x_np), torch.tensor(pad_np), torch.tensor(y_np)
    losses = []
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x, pad), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses
"""


def _run_both(torch, body, data, steps=5):
    ns_t: dict = {}
    exec(TORCH_IMPORTS + body, ns_t)  # noqa: S102 - our own script text
    ns_d: dict = {}
    exec(DLX_IMPORTS + body, ns_d)  # noqa: S102 - the same text, imports changed
    torch.manual_seed(0)
    model_t = ns_t["make_model"]()
    model_d = ns_d["make_model"]()
    model_d.load_state_dict({k: v.detach().numpy() for k, v in model_t.state_dict().items()})
    losses_t = ns_t["train"](model_t, data, steps)
    losses_d = ns_d["train"](model_d, data, steps)
    assert losses_t[-1] < losses_t[0]  # the script trains at all
    np.testing.assert_allclose(losses_d, losses_t, rtol=1e-4)


def test_conv_autoencoder_script_matches_torch():
    torch = pytest.importorskip("torch")
    images = np.random.default_rng(0).random((4, 1, 12, 12), dtype=np.float32)
    _run_both(torch, AUTOENCODER, images)


def test_transformer_classifier_script_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 7, 6)).astype(np.float32)
    pad = np.zeros((8, 7), bool)
    pad[::2, -3:] = True  # every other sequence is 4 long
    y = rng.integers(0, 3, 8)
    _run_both(torch, CLASSIFIER, (x, pad, y))
