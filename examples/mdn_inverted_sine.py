"""Multimodal regression: a mixture density network vs an MSE net on Bishop's inverted sine.

Data: y ~ U(0, 1), x = y + 0.3 sin(2 pi y) + U(-0.1, 0.1); the task is to predict y from x,
an inverse problem with up to three valid answers for one x (Bishop, "Mixture Density
Networks", 1994). An MLP trained with MSE learns the conditional mean E[y|x], which falls
between the branches; an MDN (K Gaussians, GaussianMixtureNLL, gradients clipped by norm)
learns the whole conditional density, and its most probable component follows a branch.

Scores on a test set: the negative log-likelihood (nats per point) of the MDN, and of the
MSE net read as a Gaussian with its training residual variance; and the share of x values
where a model's point prediction (the MSE net's output, the mean of the MDN's most probable
component) lies between the branches, with no training y within 0.05 of it.

python examples/mdn_inverted_sine.py --epochs 300
"""

from __future__ import annotations

import math

import numpy as np
from _common import parser, pyplot, save

import dlx
import dlx.optim
from dlx import nn
from dlx.train import fit


def make_data(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    y = rng.uniform(0.0, 1.0, (n, 1))
    x = y + 0.3 * np.sin(2 * np.pi * y) + rng.uniform(-0.1, 0.1, (n, 1))
    return x.astype(np.float32), y.astype(np.float32)


def off_data(x: np.ndarray, y: np.ndarray, xs: np.ndarray, preds: np.ndarray) -> float:
    """Fraction of ``xs`` whose prediction has no data point within 0.05 in y (|dx| < 0.02)."""
    near_x = np.abs(x[:, 0][None, :] - xs[:, None]) < 0.02  # (G, N)
    near_y = np.abs(y[:, 0][None, :] - preds[:, None]) < 0.05
    covered = near_x.any(1)
    return float(np.mean(~(near_x & near_y).any(1)[covered]))


def mlp(out: int, hidden: int = 32) -> nn.Module:
    return nn.Sequential(
        nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
        nn.Linear(hidden, out),
    )  # fmt: skip


def mdn_params(out: dlx.Tensor, k: int):
    """Split the (N, 3K) network output into logits_pi (N, K), mu and sigma_raw (N, K, 1)."""
    n = out.shape[0]
    return out[:, :k], out[:, k : 2 * k].reshape(n, k, 1), out[:, 2 * k :].reshape(n, k, 1)


def train(model, loss_of, x, y, epochs, batch, lr, seed):
    """Adam on shuffled mini-batches, gradient norm clipped to 1 (fit's clip_grad_norm)."""
    opt = dlx.optim.Adam(model.parameters(), lr=lr)
    fit(model, loss_of, opt, (x, y), epochs=epochs, batch_size=batch, metrics=(), seed=seed,
        clip_grad_norm=1.0, verbose=0)  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = parser(__doc__.splitlines()[0], epochs=300)
    p.add_argument("--components", type=int, default=5, help="mixture components K (default 5)")
    args = p.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    k = args.components
    n = 1000 if args.quick else 3000
    epochs = 60 if args.quick else args.epochs
    x, y = make_data(rng, n)
    x_te, y_te = make_data(rng, 1000)

    dlx.manual_seed(args.seed)
    mse_net = mlp(1)
    train(mse_net, nn.MSELoss(), x, y, epochs, 50, 1e-2, args.seed)
    mdn = mlp(3 * k)
    nll = nn.GaussianMixtureNLL()
    train(mdn, lambda out, t: nll(*mdn_params(out, k), t), x, y, epochs, 50, 1e-2, args.seed + 1)

    with dlx.no_grad():
        mean_tr = mse_net(dlx.tensor(x)).numpy()
        mean_te = mse_net(dlx.tensor(x_te)).numpy()
        mdn_nll = float(nll(*mdn_params(mdn(dlx.tensor(x_te)), k), dlx.tensor(y_te)).item())
        x_grid = np.linspace(float(x.min()), float(x.max()), 200, dtype=np.float32)[:, None]
        pi_logits, mu, _ = (t.numpy() for t in mdn_params(mdn(dlx.tensor(x_grid)), k))
        grid_mean = mse_net(dlx.tensor(x_grid)).numpy()[:, 0]
    var = float(np.mean((mean_tr - y) ** 2))  # the MSE net as N(y | f(x), var)
    gauss_nll = float(
        np.mean(0.5 * math.log(2 * math.pi * var) + (y_te - mean_te) ** 2 / (2 * var))
    )
    mode = mu[np.arange(len(x_grid)), pi_logits.argmax(1), 0]  # most probable component's mean

    res = {
        "mse_test": float(np.mean((mean_te - y_te) ** 2)),
        "gaussian_nll": gauss_nll,
        "mdn_nll": mdn_nll,
        "mse_off_data": off_data(x, y, x_grid[:, 0], grid_mean),
        "mdn_off_data": off_data(x, y, x_grid[:, 0], mode),
    }
    print(f"MSE net: test MSE {res['mse_test']:.4f}; as a Gaussian (residual sd "
          f"{math.sqrt(var):.3f}) test NLL {gauss_nll:.3f} nats")  # fmt: skip
    print(f"MDN (K={k}): test NLL {mdn_nll:.3f} nats")
    print(
        "share of x (200-point grid) where the point prediction falls between branches, with no "
        f"training y within 0.05: MSE net {res['mse_off_data']:.0%}, "
        f"MDN top component {res['mdn_off_data']:.0%}"
    )

    plt = pyplot()
    if plt is not None and (args.out or not args.quick):
        fig, ax = plt.subplots(figsize=(7, 5), layout="constrained")
        ax.scatter(x[:, 0], y[:, 0], s=3, alpha=0.25, c="gray", label="training data")
        ax.plot(x_grid[:, 0], grid_mean, "C0-", lw=2, label="MSE net (conditional mean)")
        ax.plot(x_grid[:, 0], mode, "C3.", ms=4, label="MDN most probable component")
        ax.set(
            title="Inverted sine: one output vs a 5-component mixture density network",
            xlabel="x (network input)",
            ylabel="y (target)",
        )
        ax.legend(fontsize=8, loc="upper left")
        save(plt, fig, args.out, "mdn_inverted_sine.png")
    return res


if __name__ == "__main__":
    main()
