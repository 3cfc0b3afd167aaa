"""PyTorch-style scripts, each written once, run on torch and on dlx with only the imports changed.

Each script below is source text. It is executed twice: once after the PyTorch imports and
once after the dlx ones (``import dlx as torch`` ...). Both runs get the same data (NumPy
arrays in the namespace) and the same initial weights: ``init(model)`` records torch's
freshly built ``state_dict()`` as NumPy arrays on the torch run and loads those arrays
with ``model.load_state_dict`` on the dlx run. Each script reports numbers with
``print``; the printed lines are parsed and compared (float32 scripts to rounding
differences between the two libraries' kernels, integers such as accuracy counts
exactly).
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from typing import Any

import numpy as np
import pytest

torch_mod = pytest.importorskip("torch")

TORCH_IMPORTS = """
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import DataLoader, TensorDataset
"""
DLX_IMPORTS = """
import dlx as torch
import dlx.nn as nn
import dlx.nn.functional as F
import dlx.optim as optim
from dlx.data import DataLoader, TensorDataset
"""

_NUMBER = re.compile(r"-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|nan|inf")


def _run(script: str, imports: str, data: dict[str, np.ndarray], init: Any) -> list[str]:
    namespace: dict[str, Any] = {"__name__": "__port_script__", "init": init, **data}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(imports + script, "<port script>", "exec"), namespace)  # noqa: S102
    return out.getvalue().splitlines()


def run_both(script: str, data: dict[str, np.ndarray]) -> tuple[list[str], list[str]]:
    """Run ``script`` on torch then on dlx; return the printed lines of each run."""
    states: list[dict[str, np.ndarray]] = []

    def record(model: Any) -> Any:
        states.append({k: v.detach().numpy().copy() for k, v in model.state_dict().items()})
        return model

    replay = iter(states)

    def load(model: Any) -> Any:
        model.load_state_dict(next(replay))
        return model

    torch_mod.manual_seed(0)
    with warnings.catch_warnings():  # torch's own advice (nested tensors ...) is not tested here
        warnings.simplefilter("ignore")
        ref = _run(script, TORCH_IMPORTS, data, record)
    got = _run(script, DLX_IMPORTS, data, load)
    return ref, got


def assert_same_output(ref: list[str], got: list[str], rtol: float = 2e-4, atol: float = 1e-5):
    """Same lines, same words, numbers equal (ints exactly, floats to ``rtol``/``atol``)."""
    assert len(ref) == len(got), (ref, got)
    assert ref, "the script printed nothing"
    for r, g in zip(ref, got, strict=True):
        assert _NUMBER.sub("#", r) == _NUMBER.sub("#", g), (r, g)
        rn, gn = _NUMBER.findall(r), _NUMBER.findall(g)
        for a, b in zip(rn, gn, strict=True):
            if re.fullmatch(r"-?\d+", a):
                assert a == b, (r, g)
            else:
                np.testing.assert_allclose(float(b), float(a), rtol=rtol, atol=atol, err_msg=g)


def _blobs(n: int, d: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``k`` well-separated Gaussian classes in ``d`` dimensions (float32, int64 labels)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (k, d))
    y = rng.integers(0, k, n)
    x = centres[y] + rng.normal(0, 1, (n, d))
    return x.astype(np.float32), y.astype(np.int64)


# (a) The tutorial classifier loop -----------------------------------------------------------
CLASSIFIER = """
class Classifier(nn.Module):
    def __init__(self, n_in, n_hidden, n_out):
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.drop = nn.Dropout(p=0.0)
        self.fc2 = nn.Linear(n_hidden, n_out)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        return self.fc2(self.drop(x))

model = init(Classifier(8, 32, 3))
criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
dataset = TensorDataset(torch.from_numpy(X), torch.from_numpy(Y))
loader = DataLoader(dataset, batch_size=16, shuffle=False)
print("batches", len(loader), "samples", len(dataset))

for epoch in range(3):
    model.train()
    running_loss = 0.0
    for i, (inputs, labels) in enumerate(loader):
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        loss.backward()
        optimizer.step()
        running_loss += loss.item() * inputs.size(0)
    print(f"epoch {epoch} loss {running_loss / len(loader.dataset):.6f} "
          f"lr {optimizer.param_groups[0]['lr']:.3f}")

@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    correct = 0
    total = 0
    nll = 0.0
    for inputs, labels in loader:
        out = model(inputs)
        _, pred = torch.max(out, 1)
        total += labels.size(0)
        correct += (pred == labels).sum().item()
        nll += F.nll_loss(F.log_softmax(out, dim=1), labels, reduction="sum").item()
        assert out.argmax(dim=1).eq(pred).all()
    return correct, total, nll / total

correct, total, nll = evaluate(model, loader)
print(f"accuracy {correct} / {total} = {100.0 * correct / total:.2f}% nll {nll:.6f}")
torch.save(model.state_dict(), PATH)
fresh = Classifier(8, 32, 3)
fresh.load_state_dict(torch.load(PATH))
print("reloaded", *evaluate(fresh, loader))

torch.save({"epoch": 3, "model": model.state_dict(), "optimizer": optimizer.state_dict()}, PATH)
checkpoint = torch.load(PATH, map_location="cpu")
resumed = Classifier(8, 32, 3)
resumed.load_state_dict(checkpoint["model"])
resumed_opt = optim.SGD(resumed.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
resumed_opt.load_state_dict(checkpoint["optimizer"])
for name, net, opt in (("original", model, optimizer), ("resumed", resumed, resumed_opt)):
    net.train()
    inputs, labels = next(iter(loader))
    opt.zero_grad()
    loss = criterion(net(inputs), labels)
    loss.backward()
    opt.step()
    print(name, "epoch", checkpoint["epoch"] + 1, f"loss {loss.item():.6f}")
"""


def test_port_classifier_loop(tmp_path):
    x, y = _blobs(96, 8, 3, seed=1)
    ref, got = run_both(CLASSIFIER, {"X": x, "Y": y, "PATH": str(tmp_path / "model.pt")})
    assert_same_output(ref, got)
    assert ref[-4].startswith("accuracy")
    assert ref[-2].split()[-1] == ref[-1].split()[-1]  # resuming from the checkpoint is exact


# (b) A CNN with x.view(x.size(0), -1) -------------------------------------------------------
CNN = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(4, 8, 3)
        self.fc1 = nn.Linear(8 * 2 * 2, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = F.relu(self.conv2(x))
        x = x.view(x.size(0), -1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)

net = init(Net())
print("parameters", sum(p.numel() for p in net.parameters() if p.requires_grad))
print("names", " ".join(name for name, _ in net.named_parameters()))
optimizer = optim.Adam(net.parameters(), lr=1e-2, betas=(0.9, 0.99))
images = torch.tensor(IMAGES)
labels = torch.tensor(LABELS)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels), batch_size=6)
for step in range(3):
    net.train()
    for xb, yb in loader:
        optimizer.zero_grad()
        out = net(xb)
        loss = F.cross_entropy(out, yb)
        loss.backward()
        grad_norm = torch.sqrt(sum((p.grad ** 2).sum() for p in net.parameters()))
        optimizer.step()
        print(f"step {step} loss {loss.item():.6f} grad {grad_norm.item():.6f}")
net.eval()
with torch.no_grad():
    probs = F.softmax(net(images[:2]), dim=1)
print("probs", " ".join(f"{v:.5f}" for v in probs.flatten().tolist()))
print("shape", list(net.conv1.weight.shape), tuple(probs.shape), probs.dim())
"""


def test_port_cnn_view():
    rng = np.random.default_rng(2)
    images = rng.normal(size=(12, 1, 8, 8)).astype(np.float32)
    labels = rng.integers(0, 3, 12).astype(np.int64)
    ref, got = run_both(CNN, {"IMAGES": images, "LABELS": labels})
    assert_same_output(ref, got)


# (c) Hand-written SGD with w.grad.zero_() under torch.no_grad() -----------------------------
MANUAL_SGD = """
x = torch.from_numpy(X)
y = torch.from_numpy(Y)
w = torch.tensor(W0, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
lr = 0.1
for step in range(6):
    pred = x @ w + b
    loss = ((pred - y) ** 2).mean()
    loss.backward()
    gnorm = w.grad.norm().item()
    with torch.no_grad():
        w -= lr * w.grad
        b.data.add_(b.grad, alpha=-lr)
        w.grad.zero_()
        b.grad.data.zero_()
    print(f"step {step} loss {loss.item():.6f} |w| {w.norm().item():.6f} |g| {gnorm:.6f}")
    assert w.grad.abs().sum().item() == 0 and w.requires_grad and w.is_leaf
print("w", " ".join(f"{v:.6f}" for v in w.detach().tolist()))
print("b", f"{b.item():.6f}")
"""


def test_port_manual_sgd():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], np.float32) + 0.3).astype(np.float32)
    w0 = rng.normal(size=4).astype(np.float32)
    ref, got = run_both(MANUAL_SGD, {"X": x, "Y": y, "W0": w0})
    assert_same_output(ref, got)


# (d) A custom module with register_buffer ---------------------------------------------------
BUFFER_MODULE = """
class Standardise(nn.Module):
    def __init__(self, features, momentum=0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("running_mean", torch.zeros(features))
        self.register_buffer("count", torch.tensor(0))
        self.register_buffer("scratch", torch.zeros(1), persistent=False)
        self.scale = nn.Parameter(torch.ones(features))

    def forward(self, x):
        if self.training:
            with torch.no_grad():
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * x.mean(0))
                self.count += 1
        return (x - self.running_mean) * self.scale

model = init(nn.Sequential(Standardise(5), nn.Linear(5, 1)))
opt = optim.SGD(model.parameters(), lr=0.05)
x = torch.from_numpy(X)
y = torch.from_numpy(Y)
for step in range(4):
    opt.zero_grad()
    loss = F.mse_loss(model(x).squeeze(1), y)
    loss.backward()
    opt.step()
    print(f"step {step} loss {loss.item():.6f}")
state = model.state_dict()
print("keys", " ".join(sorted(state)))
print("count", int(state["0.count"]))
print("mean", " ".join(f"{v:.6f}" for v in model[0].running_mean.tolist()))
print("buffers", " ".join(name for name, _ in model.named_buffers()))
print("params", len(list(model.parameters())), type(model[0].running_mean).__name__)
model.eval()
before = model[0].running_mean.clone()
model(x)
print("eval keeps buffers", bool(torch.equal(before, model[0].running_mean)))
"""


def test_port_register_buffer():
    rng = np.random.default_rng(4)
    x = (rng.normal(size=(20, 5)) + 2).astype(np.float32)
    y = rng.normal(size=20).astype(np.float32)
    ref, got = run_both(BUFFER_MODULE, {"X": x, "Y": y})
    assert_same_output(ref, got)


# (e) An LSTM regressor with clip_grad_norm_ and StepLR --------------------------------------
LSTM_REGRESSOR = """
class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(input_size=2, hidden_size=8, num_layers=2, batch_first=True)
        self.head = nn.Linear(8, 1)

    def forward(self, x):
        h0 = torch.zeros(2, x.size(0), 8)
        c0 = torch.zeros(2, x.size(0), 8)
        out, (h, c) = self.lstm(x, (h0, c0))
        assert torch.allclose(out[:, -1, :], h[-1])
        return self.head(out[:, -1, :])

model = init(Regressor())
optimizer = optim.Adam(model.parameters(), lr=0.05)
scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
x = torch.from_numpy(X)
y = torch.from_numpy(Y)
for epoch in range(5):
    optimizer.zero_grad()
    loss = nn.MSELoss()(model(x), y)
    loss.backward()
    norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)
    optimizer.step()
    scheduler.step()
    print(f"epoch {epoch} loss {loss.item():.6f} norm {norm.item():.6f} "
          f"lr {scheduler.get_last_lr()[0]:.6f} {optimizer.param_groups[0]['lr']:.6f}")
"""


def test_port_lstm_regressor():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(16, 6, 2)).astype(np.float32)
    y = x.sum(axis=(1, 2))[:, None].astype(np.float32) * 0.3
    ref, got = run_both(LSTM_REGRESSOR, {"X": x, "Y": y})
    assert_same_output(ref, got)


# (f) A Hessian-vector product with create_graph=True ----------------------------------------
HVP = """
x = torch.tensor(X0, dtype=torch.float64, requires_grad=True)
v = torch.tensor(V, dtype=torch.float64)

def f(x):
    return (x ** 4).sum() + (x[:-1] * x[1:]).sum() + torch.sin(x).pow(2).sum()

y = f(x)
(g,) = torch.autograd.grad(y, x, create_graph=True)
(hv,) = torch.autograd.grad(g, x, grad_outputs=v, retain_graph=True)
print("f", f"{y.item():.12f}")
print("grad", " ".join(f"{t:.12f}" for t in g.detach().tolist()))
print("hvp", " ".join(f"{t:.12f}" for t in hv.tolist()))
gv = (g * v).sum()
gv.backward()
print("hvp2", " ".join(f"{t:.12f}" for t in x.grad.tolist()))
value, hv3 = torch.autograd.functional.hvp(f, x.detach(), v)
print("hvp3", f"{value.item():.12f}", " ".join(f"{t:.12f}" for t in hv3.tolist()))
"""


def test_port_hvp_create_graph():
    rng = np.random.default_rng(6)
    data = {"X0": rng.normal(size=5), "V": rng.normal(size=5)}
    ref, got = run_both(HVP, data)
    assert_same_output(ref, got, rtol=1e-10, atol=1e-12)


# Scripts on layers that other parts of issue 15 add (Embedding, LayerNorm, ConvTranspose2d,
# TransformerEncoder). Each runs as soon as dlx has the layers it names, and is skipped until then.
def _needs(*names: str):
    import dlx.nn

    missing = [n for n in names if not hasattr(dlx.nn, n)]
    return pytest.mark.skipif(bool(missing), reason=f"dlx.nn lacks {', '.join(missing)}")


# (g) A text classifier with Embedding + LayerNorm -------------------------------------------
TEXT_CLASSIFIER = """
class TextClassifier(nn.Module):
    def __init__(self, vocab, dim, classes):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim, padding_idx=0)
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, classes)

    def forward(self, tokens):
        mask = (tokens != 0).unsqueeze(-1).float()
        h = self.norm(self.embed(tokens))
        pooled = (h * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.fc(pooled)

model = init(TextClassifier(20, 8, 2))
optimizer = optim.Adam(model.parameters(), lr=0.01)
tokens = torch.from_numpy(TOKENS)
labels = torch.from_numpy(LABELS)
for step in range(5):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(tokens), labels)
    loss.backward()
    optimizer.step()
    print(f"step {step} loss {loss.item():.6f} pad-row-grad {model.embed.weight.grad[0].abs().sum().item():.6f}")
with torch.no_grad():
    correct = (model(tokens).argmax(1) == labels).sum().item()
print("correct", correct)
"""


@_needs("Embedding", "LayerNorm")
def test_port_text_classifier_embedding_layernorm():
    rng = np.random.default_rng(7)
    tokens = rng.integers(1, 20, (10, 6)).astype(np.int64)
    tokens[:, 4:] = 0  # padding
    labels = (tokens[:, 0] > 10).astype(np.int64)
    ref, got = run_both(TEXT_CLASSIFIER, {"TOKENS": tokens, "LABELS": labels})
    assert_same_output(ref, got)


# (h) A conv autoencoder with ConvTranspose2d -------------------------------------------------
AUTOENCODER = """
class AutoEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.ReLU(),
        )
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(4, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid(),
        )

    def forward(self, x):
        return self.decoder(self.encoder(x))

model = init(AutoEncoder())
optimizer = optim.Adam(model.parameters(), lr=1e-2)
images = torch.from_numpy(IMAGES)
for step in range(4):
    optimizer.zero_grad()
    recon = model(images)
    loss = F.mse_loss(recon, images)
    loss.backward()
    optimizer.step()
    print(f"step {step} loss {loss.item():.6f} shape {tuple(recon.shape)}")
"""


@_needs("ConvTranspose2d")
def test_port_conv_autoencoder():
    rng = np.random.default_rng(8)
    images = rng.uniform(size=(4, 1, 8, 8)).astype(np.float32)
    ref, got = run_both(AUTOENCODER, {"IMAGES": images})
    assert_same_output(ref, got)


# (i) A small Transformer encoder -------------------------------------------------------------
TRANSFORMER = """
class Encoder(nn.Module):
    def __init__(self, dim=8, heads=2, classes=3):
        super().__init__()
        layer = nn.TransformerEncoderLayer(
            d_model=dim, nhead=heads, dim_feedforward=16, dropout=0.0, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=2)
        self.head = nn.Linear(dim, classes)

    def forward(self, x, pad_mask):
        h = self.encoder(x, src_key_padding_mask=pad_mask)
        return self.head(h[:, 0])

model = init(Encoder())
optimizer = optim.SGD(model.parameters(), lr=0.1)
x = torch.from_numpy(X)
pad_mask = torch.from_numpy(PAD)
y = torch.from_numpy(Y)
for step in range(4):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x, pad_mask), y)
    loss.backward()
    optimizer.step()
    print(f"step {step} loss {loss.item():.6f}")
"""


@_needs("TransformerEncoderLayer", "TransformerEncoder")
def test_port_transformer_encoder():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(4, 5, 8)).astype(np.float32)
    pad = np.zeros((4, 5), bool)
    pad[1, 3:] = True
    pad[2, 4:] = True
    y = rng.integers(0, 3, 4).astype(np.int64)
    ref, got = run_both(TRANSFORMER, {"X": x, "PAD": pad, "Y": y})
    assert_same_output(ref, got)
