"""XOR: a hand-set 2-2-1 ReLU network that is exact, then a 2-8-1 network learned from data.

python examples/xor.py
"""

from __future__ import annotations

import numpy as np
from _common import parser

import dlx
import dlx.optim
from dlx import nn

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
Y = np.array([0, 1, 1, 0], dtype=np.float32)


def hand_set() -> nn.Sequential:
    """f(x) = w . relu(W x + c) + b with W = [[1, 1], [1, 1]], c = [0, -1], w = [1, -2], b = 0.

    The hidden units compute x1 + x2 and max(x1 + x2 - 1, 0); subtracting twice the second
    from the first gives 0, 1, 1, 0 exactly (Goodfellow et al., Deep Learning, 6.1).
    """
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    model.load_state_dict(
        {
            "0.weight": np.ones((2, 2), np.float32),
            "0.bias": np.array([0, -1], np.float32),
            "2.weight": np.array([[1, -2]], np.float32),
            "2.bias": np.zeros(1, np.float32),
        }
    )
    return model


def learned(steps: int, seed: int) -> tuple[nn.Sequential, float]:
    """A 2-8-1 tanh net trained by full-batch Adam on the binary cross-entropy."""
    dlx.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    opt = dlx.optim.Adam(model.parameters(), lr=0.05)
    loss_fn = nn.BCEWithLogitsLoss()
    x, t = dlx.tensor(X), dlx.tensor(Y.reshape(4, 1))
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(x), t)
        loss.backward()
        opt.step()
    return model, float(loss.item())


def main(argv: list[str] | None = None) -> dict[str, np.ndarray]:
    args = parser(__doc__.splitlines()[0], epochs=500).parse_args(argv)
    with dlx.no_grad():
        exact = hand_set()(dlx.tensor(X)).numpy().reshape(-1)
    print(f"hand-set ReLU net:   {exact.tolist()}   (targets {Y.tolist()})")

    model, loss = learned(50 if args.quick else args.epochs, args.seed)
    with dlx.no_grad():
        probs = model(dlx.tensor(X)).sigmoid().numpy().reshape(-1)
    shown = ", ".join(f"{p:.3f}" for p in probs)
    print(f"learned 2-8-1 net:   p(y=1) = [{shown}]   BCE {loss:.4f}")
    print(f"learned predictions: {(probs > 0.5).astype(int).tolist()}")
    return {"hand_set": exact, "learned": probs}


if __name__ == "__main__":
    main()
