"""XOR: the textbook hand-set ReLU net, and a 2-8-1 net trained from random init."""

from __future__ import annotations

import time

import numpy as np

import dlx
import dlx.optim
from dlx import nn

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
Y = np.array([0, 1, 1, 0], dtype=np.float32)


def test_xor_hand_set_weights_exact():
    # f(x) = w . relu(W x + c) + b  with W=[[1,1],[1,1]], c=[0,-1], w=[1,-2], b=0
    hidden, out = nn.Linear(2, 2), nn.Linear(2, 1)
    hidden.load_state_dict(
        {"weight": np.array([[1, 1], [1, 1]], np.float32), "bias": np.array([0, -1], np.float32)}
    )
    with dlx.no_grad():
        out.weight.copy_(np.array([[1, -2]], np.float32))
        out.bias.zero_()
    y = out(hidden(dlx.tensor(X)).relu())
    np.testing.assert_array_equal(y.numpy().reshape(-1), Y)


def test_xor_hand_set_weights_in_sequential():
    class Relu(nn.Module):
        def forward(self, x):
            return x.relu()

    model = nn.Sequential(nn.Linear(2, 2), Relu(), nn.Linear(2, 1))
    model.load_state_dict(
        {
            "0.weight": np.ones((2, 2), np.float32),
            "0.bias": np.array([0, -1], np.float32),
            "2.weight": np.array([[1, -2]], np.float32),
            "2.bias": np.zeros(1, np.float32),
        }
    )
    np.testing.assert_array_equal(model(dlx.tensor(X)).numpy().reshape(-1), Y)


def _train(loss_fn, targets, make_opt, steps):
    dlx.manual_seed(0)
    hidden, out = nn.Linear(2, 8), nn.Linear(8, 1)
    params = [*hidden.parameters(), *out.parameters()]
    opt = make_opt(params)
    x, t = dlx.tensor(X), dlx.tensor(targets.reshape(4, 1))
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(out(hidden(x).relu()), t)
        loss.backward()
        opt.step()
    with dlx.no_grad():
        return out(hidden(x).relu()).numpy().reshape(-1), float(loss.item())


def test_xor_trained_bce_with_logits_adam():
    start = time.perf_counter()
    logits, loss = _train(
        nn.BCEWithLogitsLoss(), Y, lambda p: dlx.optim.Adam(p, lr=0.05), steps=300
    )
    elapsed = time.perf_counter() - start
    np.testing.assert_array_equal((logits > 0).astype(np.float32), Y)
    assert loss < 0.1
    assert elapsed < 1.0


def test_xor_trained_mse_sgd():
    pred, loss = _train(
        nn.MSELoss(), Y, lambda p: dlx.optim.SGD(p, lr=0.1, momentum=0.9), steps=400
    )
    np.testing.assert_array_equal((pred > 0.5).astype(np.float32), Y)
    assert loss < 0.05
