"""A PyTorch text classifier (Embedding + LayerNorm + Linear, mean pooling over tokens,
CrossEntropyLoss, Adam) written once and run twice: on torch, then on dlx with only the
imports changed, from the same initial weights. The printed losses must agree."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

TORCH_IMPORTS = """
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
"""

DLX_IMPORTS = """
import dlx as torch
import dlx.nn as nn
import dlx.nn.functional as F
import dlx.optim as optim
"""

SCRIPT = """
class TextClassifier(nn.Module):
    def __init__(self, vocab_size, embed_dim, num_classes):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.norm = nn.LayerNorm(embed_dim)
        self.fc = nn.Linear(embed_dim, num_classes)

    def forward(self, tokens):
        h = self.norm(self.embedding(tokens))   # (batch, seq, embed_dim)
        h = F.relu(h).mean(dim=1)               # mean pooling over the tokens
        return self.fc(h)


model = TextClassifier(VOCAB, 16, 3)
initial = {k: v.clone() for k, v in model.state_dict().items()}
if INITIAL_STATE is not None:
    model.load_state_dict(INITIAL_STATE)

criterion = nn.CrossEntropyLoss()
optimizer = optim.Adam(model.parameters(), lr=0.01)
x = torch.tensor(TOKENS)
y = torch.tensor(LABELS)

losses = []
for step in range(8):
    optimizer.zero_grad()
    out = model(x)
    loss = criterion(out, y)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
    print(f"step {step}: loss {loss.item():.6f}")

with torch.no_grad():
    _, pred = torch.max(model(x), 1)
accuracy = (pred == y).float().mean().item()
print(f"accuracy {accuracy:.4f}")
"""


def _run(imports: str, initial_state, tokens, labels):
    env = {"INITIAL_STATE": initial_state, "TOKENS": tokens, "LABELS": labels, "VOCAB": 40}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(imports + SCRIPT, "<ported script>", "exec"), env)  # noqa: S102 - our own text
    return env, out.getvalue()


def test_text_classifier_runs_on_dlx_by_changing_the_imports():
    pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    tokens = rng.integers(1, 40, (24, 10))
    tokens[:, 7:] = 0  # padded tails
    tokens[::3, 5:] = 0
    labels = (tokens[:, 0] % 3).astype(np.int64)

    t_env, t_out = _run(TORCH_IMPORTS, None, tokens, labels)
    d_env, d_out = _run(DLX_IMPORTS, t_env["initial"], tokens, labels)

    assert d_out.count("step") == t_out.count("step") == 8
    np.testing.assert_allclose(d_env["losses"], t_env["losses"], rtol=1e-4, atol=1e-6)
    assert t_env["losses"][-1] < t_env["losses"][0]  # it learns
    assert abs(d_env["accuracy"] - t_env["accuracy"]) < 1e-6
    t_state = t_env["model"].state_dict()
    d_state = d_env["model"].state_dict()
    assert list(d_state) == list(t_state)
    for k, v in t_state.items():
        np.testing.assert_allclose(d_state[k].numpy(), v.numpy(), rtol=1e-3, atol=1e-5)
    # the padding row never moves
    np.testing.assert_array_equal(d_state["embedding.weight"].numpy()[0], 0)
