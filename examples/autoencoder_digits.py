"""Dense autoencoder on the 8x8 digits: 64 -> 32 -> 16 -> 32 -> 64 with a sigmoid output.

The reconstruction MSE on held-out digits falls far below the baseline of predicting the
mean training image for every digit. Saves originals vs reconstructions as a PNG when
matplotlib is installed.

    python examples/autoencoder_digits.py --epochs 100
"""

from __future__ import annotations

import numpy as np
from _common import parser, pyplot, save

import dlx
import dlx.optim
from dlx import nn
from dlx.data import load_digits, train_val_split
from dlx.train import fit, predict


def autoencoder(code: int) -> tuple[nn.Sequential, nn.Sequential]:
    encoder = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, code), nn.ReLU())
    decoder = nn.Sequential(nn.Linear(code, 32), nn.ReLU(), nn.Linear(32, 64), nn.Sigmoid())
    return encoder, decoder


def show(plt, rows: list[np.ndarray], labels: list[str], out: str | None, name: str, title: str):
    """A grid of 8x8 images: one row per entry of ``rows``, labelled on the left."""
    n = min(10, len(rows[0]))
    fig, axes = plt.subplots(
        len(rows), n, figsize=(n + 1.5, 1.2 * len(rows) + 0.8), squeeze=False, layout="constrained"
    )
    for r, (imgs, label) in enumerate(zip(rows, labels, strict=True)):
        for c in range(n):
            axes[r, c].imshow(imgs[c].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(label, fontsize=9, rotation=0, ha="right", va="center")
    for c in range(n):
        axes[0, c].set_title(f"test {c + 1}", fontsize=8)
    fig.suptitle(title + " (8x8 pixels, ink 0-1)")
    save(plt, fig, out, name)


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = parser(__doc__.splitlines()[0], epochs=100)
    p.add_argument("--code", type=int, default=16, help="size of the bottleneck (default 16)")
    args = p.parse_args(argv)
    x, y = load_digits()
    x = x.reshape(len(x), 64)  # flat pixels in [0, 1]
    (x_tr, _), (x_te, _) = train_val_split(x, y, val_fraction=0.2, seed=args.seed)
    if args.quick:
        x_tr = x_tr[:400]
    epochs = 30 if args.quick else args.epochs

    dlx.manual_seed(args.seed)
    encoder, decoder = autoencoder(args.code)
    model = nn.Sequential(encoder, decoder)
    opt = dlx.optim.Adam(model.parameters(), lr=3e-3)
    # An autoencoder's target is its input.
    hist = fit(
        model,
        nn.MSELoss(),
        opt,
        (x_tr, x_tr),
        epochs=epochs,
        batch_size=32,
        metrics=(),
        seed=args.seed,
        verbose=0,
    )

    recon = predict(model, x_te)
    mse = float(np.mean((recon - x_te) ** 2))
    baseline = float(np.mean((x_tr.mean(axis=0) - x_te) ** 2))  # the mean image for every digit
    print(f"{args.code}-unit code, {epochs} epochs: train MSE {hist['loss'][-1]:.5f}")
    print(
        f"test reconstruction MSE {mse:.5f}  vs mean-image baseline {baseline:.5f}"
        f"  ({baseline / mse:.1f}x lower)"
    )

    plt = pyplot()
    if plt is not None and (args.out or not args.quick):
        show(
            plt,
            [x_te, recon],
            ["original", "reconstruction"],
            args.out,
            "autoencoder_digits.png",
            f"Dense autoencoder, {args.code}-unit code: test MSE {mse:.4f} "
            f"(mean image {baseline:.4f})",
        )
    return {"mse": mse, "baseline": baseline}


if __name__ == "__main__":
    main()
