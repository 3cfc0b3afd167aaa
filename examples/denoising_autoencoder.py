"""Denoising autoencoder: trained on corrupted digits (Gaussian or masking noise) to output
the clean digit. Reports the clean-target MSE of the noisy input and of the reconstruction.

    python examples/denoising_autoencoder.py --epochs 100
"""

from __future__ import annotations

import numpy as np
from _common import parser, pyplot

import dlx
import dlx.optim
from dlx import nn
from dlx.data import (
    DataLoader,
    GaussianNoise,
    MaskingNoise,
    TensorDataset,
    load_digits,
    train_val_split,
)
from dlx.train import fit, predict


def autoencoder() -> nn.Sequential:
    # Overcomplete is fine here: the noise, not a bottleneck, stops it learning the identity.
    return nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
        nn.Linear(64, 64), nn.Sigmoid(),
    )  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    p = parser(__doc__.splitlines()[0], epochs=100)
    p.add_argument("--std", type=float, default=0.3, help="Gaussian noise std (default 0.3)")
    p.add_argument("--mask", type=float, default=0.3, help="masking probability (default 0.3)")
    args = p.parse_args(argv)
    x, y = load_digits()
    x = x.reshape(len(x), 64)
    (x_tr, _), (x_te, _) = train_val_split(x, y, val_fraction=0.2, seed=args.seed)
    if args.quick:
        x_tr = x_tr[:400]
    epochs = 30 if args.quick else args.epochs
    noises = {
        "gaussian": lambda seed: GaussianNoise(args.std, clip=(0, 1), generator=seed),
        "masking": lambda seed: MaskingNoise(args.mask, generator=seed),
    }

    results, rows = {}, [x_te]
    for name, make in noises.items():
        dlx.manual_seed(args.seed)
        model = autoencoder()
        # The loader corrupts the inputs of each batch afresh; the targets stay clean.
        loader = DataLoader(
            TensorDataset(x_tr, x_tr),
            batch_size=32,
            shuffle=True,
            generator=args.seed,
            transform=make(args.seed),
        )
        fit(
            model,
            nn.MSELoss(),
            dlx.optim.Adam(model.parameters(), lr=2e-3),
            loader,
            epochs=epochs,
            metrics=(),
            verbose=0,
        )
        noisy = make(args.seed + 1000)(x_te)  # fixed test corruption, unseen noise
        recon = predict(model, noisy)
        results[name] = {
            "noisy_mse": float(np.mean((noisy - x_te) ** 2)),
            "denoised_mse": float(np.mean((recon - x_te) ** 2)),
        }
        rows += [noisy, recon]

    print(f"test digits ({len(x_te)}), MSE against the clean images after {epochs} epochs:")
    for name, r in results.items():
        print(
            f"  {name:<9} noise: noisy input {r['noisy_mse']:.5f} -> "
            f"reconstruction {r['denoised_mse']:.5f}"
        )

    plt = pyplot()
    if plt is not None and (args.out or not args.quick):
        from autoencoder_digits import show

        labels = ["clean", "gaussian noise", "denoised", "masking noise", "denoised"]
        show(
            plt,
            rows,
            labels,
            args.out,
            "denoising_autoencoder.png",
            "Denoising autoencoder: noisy test digits and what it makes of them",
        )
    return results


if __name__ == "__main__":
    main()
