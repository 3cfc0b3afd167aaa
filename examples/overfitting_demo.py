"""Overfitting: a wide MLP on 150 digits, without regularisation vs dropout vs weight decay
vs early stopping. Prints final train/validation accuracy and the gap; plots the curves.

    python examples/overfitting_demo.py --epochs 150
"""

from __future__ import annotations

from _common import parser, plain_log_axis, positive_int, pyplot, save

import dlx
import dlx.optim
from dlx import nn
from dlx.data import load_digits, train_val_split
from dlx.train import EarlyStopping, evaluate, fit


def mlp(p_drop: float) -> nn.Sequential:
    drop = [nn.Dropout(p_drop)] if p_drop else []
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(64, 512), nn.ReLU(), *drop,
        nn.Linear(512, 512), nn.ReLU(), *drop,
        nn.Linear(512, 10),
    )  # fmt: skip


# name -> (dropout p, weight decay, early stopping)
VARIANTS = {
    "none": (0.0, 0.0, False),
    "dropout 0.5": (0.5, 0.0, False),
    "weight decay 1e-3": (0.0, 1e-3, False),
    "early stopping": (0.0, 0.0, True),
}


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    p = parser(__doc__.splitlines()[0], epochs=150)
    p.add_argument(
        "--train-size", type=positive_int, default=150, help="training samples (default 150)"
    )
    args = p.parse_args(argv)
    x, y = load_digits()
    (x_tr, y_tr), (x_va, y_va) = train_val_split(x, y, val_fraction=0.3, seed=args.seed)
    n = 64 if args.quick else args.train_size
    x_tr, y_tr = x_tr[:n], y_tr[:n]  # a small training set is easy to memorise
    if args.quick:
        x_va, y_va = x_va[:128], y_va[:128]
    epochs = 3 if args.quick else args.epochs

    results, histories = {}, {}
    for name, (p_drop, wd, early) in VARIANTS.items():
        dlx.manual_seed(args.seed)
        model = mlp(p_drop)
        # SGD's weight_decay adds wd * w to the gradient: the gradient of wd/2 * ||w||^2.
        opt = dlx.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=wd)
        cbs = (
            [EarlyStopping(monitor="val_loss", patience=10, restore_best_weights=True)]
            if early
            else []
        )
        hist = fit(
            model,
            nn.CrossEntropyLoss(),
            opt,
            (x_tr, y_tr),
            epochs=epochs,
            batch_size=32,
            validation_data=(x_va, y_va),
            callbacks=cbs,
            seed=args.seed,
            verbose=0,
        )
        tr = evaluate(model, nn.CrossEntropyLoss(), (x_tr, y_tr))
        va = evaluate(model, nn.CrossEntropyLoss(), (x_va, y_va))
        results[name] = {
            "train_acc": tr["accuracy"],
            "val_acc": va["accuracy"],
            "train_loss": tr["loss"],
            "val_loss": va["loss"],
            "gap": tr["accuracy"] - va["accuracy"],
            "epochs": len(hist["loss"]),
        }
        histories[name] = hist

    print(f"{len(x_tr)} training / {len(x_va)} validation digits, up to {epochs} epochs")
    print(
        f"{'variant':<20}{'epochs':>7}{'train acc':>10}{'val acc':>9}{'gap':>8}{'train loss':>12}{'val loss':>10}"
    )
    for name, r in results.items():
        print(
            f"{name:<20}{r['epochs']:>7}{r['train_acc']:>10.4f}{r['val_acc']:>9.4f}"
            f"{r['gap']:>8.4f}{r['train_loss']:>12.4f}{r['val_loss']:>10.4f}"
        )

    plt = pyplot()
    if plt is not None and (args.out or not args.quick):
        fig, axes = plt.subplots(
            1, len(histories), figsize=(4 * len(histories), 4), sharey=True, layout="constrained"
        )
        for ax, (name, h) in zip(axes, histories.items(), strict=True):
            epochs_run = range(1, len(h["loss"]) + 1)
            ax.plot(epochs_run, h["loss"], "C0-", lw=1.5, label="train")
            ax.plot(epochs_run, h["val_loss"], "C1--", lw=1.5, label="validation")
            gap = results[name]["gap"]
            ax.set(title=f"{name} (accuracy gap {gap:.2f})", xlabel="epoch")
            plain_log_axis(ax)
        axes[0].set_ylabel("cross-entropy loss (log scale)")
        axes[0].legend()
        fig.suptitle(f"Overfitting {n} training digits: train vs validation loss per regulariser")
        save(plt, fig, args.out, "overfitting_demo.png")
    return results


if __name__ == "__main__":
    main()
