"""Optimiser comparison: the same MLP trained on the digits by SGD, momentum, Nesterov,
Adagrad, RMSprop, Adadelta, Adam and AdamW from the same initial weights.

Saves ``optimizer_comparison.png`` (training-loss curves) when matplotlib is installed and
always prints a table of the loss per epoch.

    python examples/optimizer_comparison.py --epochs 15
"""

from __future__ import annotations

import copy

from _common import parser, plain_log_axis, pyplot, save, style

import dlx
from dlx import nn, optim
from dlx.data import load_digits
from dlx.train import fit

OPTIMIZERS = {
    "SGD": lambda p: optim.SGD(p, lr=0.05),
    "Momentum": lambda p: optim.SGD(p, lr=0.05, momentum=0.9),
    "Nesterov": lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    "Adagrad": lambda p: optim.Adagrad(p, lr=0.05),
    "RMSprop": lambda p: optim.RMSprop(p, lr=1e-3),
    "Adadelta": lambda p: optim.Adadelta(p, lr=1.0),
    "Adam": lambda p: optim.Adam(p, lr=1e-3),
    "AdamW": lambda p: optim.AdamW(p, lr=1e-3, weight_decay=1e-2),
}
LABELS = {  # the settings, so curves that nearly coincide (Adam, AdamW) are told apart
    "SGD": "SGD (lr 0.05)",
    "Momentum": "SGD + momentum 0.9",
    "Nesterov": "SGD + Nesterov 0.9",
    "Adagrad": "Adagrad (lr 0.05)",
    "RMSprop": "RMSprop (lr 1e-3)",
    "Adadelta": "Adadelta (lr 1)",
    "Adam": "Adam (lr 1e-3)",
    "AdamW": "AdamW (lr 1e-3, decay 0.01)",
}


def main(argv: list[str] | None = None) -> dict[str, list[float]]:
    args = parser(__doc__.splitlines()[0], epochs=15).parse_args(argv)
    x, y = load_digits()
    if args.quick:
        x, y = x[:128], y[:128]
    epochs = 2 if args.quick else args.epochs

    dlx.manual_seed(args.seed)
    init = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    curves: dict[str, list[float]] = {}
    for name, make in OPTIMIZERS.items():
        model = copy.deepcopy(init)  # identical starting weights for every optimiser
        hist = fit(
            model,
            nn.CrossEntropyLoss(),
            make(model.parameters()),
            (x, y),
            epochs=epochs,
            batch_size=32,
            metrics=(),
            seed=args.seed,
            verbose=0,
        )
        curves[name] = hist["loss"]

    print("training loss per epoch")
    print(f"{'epoch':>5} " + " ".join(f"{n:>9}" for n in curves))
    for e in range(epochs):
        print(f"{e + 1:>5} " + " ".join(f"{c[e]:9.4f}" for c in curves.values()))

    plt = pyplot()
    if plt is None:
        print("(install matplotlib for the plot)")
    elif args.out or not args.quick:
        fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
        for i, (name, c) in enumerate(curves.items()):
            label = LABELS.get(name, name)
            ax.plot(range(1, epochs + 1), c, label=label, **style(i, epochs))
        plain_log_axis(ax)
        ax.set(
            title="Eight optimisers on the digits MLP (same initial weights, batch 32)",
            xlabel="epoch",
            ylabel="training loss (cross-entropy, log scale)",
        )
        ax.legend(ncols=2)
        save(plt, fig, args.out, "optimizer_comparison.png")
    return curves


if __name__ == "__main__":
    main()
