"""Sequence prediction: an LSTM vs an MLP predict the next value of noisy sine waves.

Every sequence has its own frequency (7 to 33 steps per period), phase and amplitude (0.2
to 2), plus observation noise, so a model must infer the wave from the window before it
can extrapolate: x[t+1] = 2 cos(w) x[t] - x[t-1] needs a product of an inferred frequency
and the input, which the LSTM's multiplicative gates express more easily than tanh units. Both models see the
same windows of the last ``--window`` values, train for the same epochs with the same
optimiser, and are scored by the test MSE against the clean next value.

python examples/lstm_sine.py --epochs 30
"""

from __future__ import annotations

import time

import numpy as np
from _common import parser, pyplot, save

import dlx
import dlx.optim
from dlx import nn
from dlx.train import fit, predict


def make_windows(rng: np.random.Generator, n: int, window: int, noise: float):
    """``n`` windows of noisy sines (N, window, 1) and the clean next values (N, 1)."""
    freq = rng.uniform(0.03, 0.15, (n, 1))  # cycles per step: 7 to 33 steps per period
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    amp = rng.uniform(0.2, 2.0, (n, 1))
    t = np.arange(window + 1)
    clean = amp * np.sin(2 * np.pi * freq * t + phase)
    noisy = clean[:, :window] + noise * rng.standard_normal((n, window))
    x = noisy[:, :, None].astype(np.float32)
    y = clean[:, window:].astype(np.float32)
    return x, y


class LSTMRegressor(nn.Module):
    """LSTM over the window, a linear read-out of the last hidden state."""

    def __init__(self, hidden: int):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1, :])


class MLPRegressor(nn.Module):
    """Two tanh hidden layers over the flattened window."""

    def __init__(self, window: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(), nn.Linear(window, hidden), nn.Tanh(),
            nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1),
        )  # fmt: skip

    def forward(self, x):
        return self.net(x)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = parser(__doc__.splitlines()[0], epochs=30)
    p.add_argument("--window", type=int, default=20, help="input window length (default 20)")
    p.add_argument("--noise", type=float, default=0.05, help="observation noise std (default 0.05)")
    args = p.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    n_train, n_test = (1024, 512) if args.quick else (8192, 2048)
    epochs = 20 if args.quick else args.epochs
    hidden = 32
    x, y = make_windows(rng, n_train, args.window, args.noise)
    x_te, y_te = make_windows(rng, n_test, args.window, args.noise)

    results = {}
    preds = {}
    for name in ("lstm", "mlp"):
        dlx.manual_seed(args.seed)
        model = LSTMRegressor(hidden) if name == "lstm" else MLPRegressor(args.window, 64)
        opt = dlx.optim.Adam(model.parameters(), lr=1e-2)
        t0 = time.perf_counter()
        fit(model, nn.MSELoss(), opt, (x, y), epochs=epochs, batch_size=32, metrics=(),
            verbose=0, seed=args.seed)  # fmt: skip
        secs = time.perf_counter() - t0
        preds[name] = predict(model, x_te)
        results[f"{name}_mse"] = float(np.mean((preds[name] - y_te) ** 2))
        print(f"{name.upper():4s} ({n_params(model):5d} params, {secs:5.1f} s): "
              f"test MSE {results[f'{name}_mse']:.5f}")  # fmt: skip
    last = float(np.mean((x_te[:, -1] - y_te) ** 2))  # repeat the last observed value
    results["last_value_mse"] = last
    print(f"repeat-last-value baseline: test MSE {last:.5f}  (target variance "
          f"{float(np.var(y_te)):.3f}, noise variance {args.noise**2:.4f})")  # fmt: skip

    plt = pyplot()
    if plt is not None and (args.out or not args.quick):
        fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True, layout="constrained")
        t = np.arange(args.window + 1)
        for ax, i in zip(axes, range(3), strict=True):
            ax.plot(t[:-1], x_te[i, :, 0], "k.-", lw=1, label="input window (noisy)")
            ax.plot(t[-1], y_te[i, 0], "o", color="k", ms=11, mfc="none", mew=2,
                    label="true next value")  # fmt: skip
            ax.plot(t[-1], preds["lstm"][i, 0], "s", color="C3", ms=7, label="LSTM prediction")
            ax.plot(t[-1], preds["mlp"][i, 0], "^", color="C0", ms=7, label="MLP prediction")
            err = {k: abs(float(preds[k][i, 0] - y_te[i, 0])) for k in ("lstm", "mlp")}
            ax.set_title(
                f"test window {i + 1}: error LSTM {err['lstm']:.3f}, MLP {err['mlp']:.3f}",
                fontsize=10,
            )
            ax.set_xlabel("time step")
        axes[0].set_ylabel("signal value")
        axes[0].legend(fontsize=8, loc="lower left")
        fig.suptitle(
            f"Next value of a noisy sine from {args.window} steps: test MSE LSTM "
            f"{results['lstm_mse']:.4f}, MLP {results['mlp_mse']:.4f}"
        )
        save(plt, fig, args.out, "lstm_sine.png")
    return results


if __name__ == "__main__":
    main()
