"""Regression: a small tanh MLP fits y = sin(x) on [-pi, pi] from noisy samples.

python examples/sine_regression.py --epochs 300
"""

from __future__ import annotations

import numpy as np
from _common import parser, pyplot, save

import dlx
import dlx.optim
from dlx import nn
from dlx.train import fit, predict


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parser(__doc__.splitlines()[0], epochs=300).parse_args(argv)
    rng = np.random.default_rng(args.seed)
    n = 128 if args.quick else 1024
    x = rng.uniform(-np.pi, np.pi, (n, 1)).astype(np.float32)
    y = (np.sin(x) + 0.05 * rng.standard_normal((n, 1))).astype(np.float32)
    x_test = np.linspace(-np.pi, np.pi, 200, dtype=np.float32).reshape(-1, 1)

    dlx.manual_seed(args.seed)
    model = nn.Sequential(
        nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1)
    )
    opt = dlx.optim.Adam(model.parameters(), lr=1e-2)
    epochs = 20 if args.quick else args.epochs
    hist = fit(
        model, nn.MSELoss(), opt, (x, y), epochs=epochs, batch_size=64, metrics=(), verbose=0
    )

    pred = predict(model, x_test)
    test_mse = float(np.mean((pred - np.sin(x_test)) ** 2))
    baseline = float(np.mean(np.sin(x_test) ** 2))  # predicting the mean (0) everywhere
    print(f"train MSE after {epochs} epochs: {hist['loss'][-1]:.5f} (noise floor 0.0025)")
    print(f"test MSE vs sin(x): {test_mse:.5f}   (constant-0 predictor: {baseline:.3f})")

    plt = pyplot()
    if plt is not None and (args.out or not args.quick):
        fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
        ax.scatter(x[:, 0], y[:, 0], s=4, alpha=0.3, color="0.5", label=f"{n} noisy samples")
        ax.plot(x_test[:, 0], np.sin(x_test[:, 0]), "k--", lw=2, label="sin(x), the truth")
        ax.plot(x_test[:, 0], pred[:, 0], "C3-", lw=1.5, label=f"MLP (test MSE {test_mse:.4f})")
        ax.set(
            title=f"A 1-32-32-1 tanh MLP fits sin(x) ({epochs} epochs of Adam)",
            xlabel="x (radians)",
            ylabel="y = sin(x) + noise",
        )
        ax.legend(loc="upper left")
        save(plt, fig, args.out, "sine_regression.png")
    return {"train_mse": hist["loss"][-1], "test_mse": test_mse, "baseline": baseline}


if __name__ == "__main__":
    main()
