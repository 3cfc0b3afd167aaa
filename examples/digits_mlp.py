"""Classification: an MLP on the 8x8 digits that ship with dlx (about 98-99% test accuracy).

Saves ``digits_mlp_history.png`` (learning curves from ``History.plot()``) with matplotlib.

python examples/digits_mlp.py --epochs 30
"""

from __future__ import annotations

from _common import parser, pyplot, save

import dlx
import dlx.optim
from dlx import nn
from dlx.data import load_digits, train_val_split
from dlx.train import evaluate, fit


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parser(__doc__.splitlines()[0], epochs=30).parse_args(argv)
    x, y = load_digits()  # (1797, 1, 8, 8) in [0, 1]
    if args.quick:
        x, y = x[:300], y[:300]
    (x_tr, y_tr), (x_te, y_te) = train_val_split(x, y, val_fraction=0.2, seed=args.seed)

    dlx.manual_seed(args.seed)
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10)
    )
    print(model.summary((1, 8, 8)))
    opt = dlx.optim.Adam(model.parameters(), lr=3e-3)
    epochs = 2 if args.quick else args.epochs
    hist = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        (x_tr, y_tr),
        epochs=epochs,
        batch_size=32,
        validation_split=0.1,
        seed=args.seed,
        verbose=0,
    )
    test = evaluate(model, nn.CrossEntropyLoss(), (x_te, y_te))
    print(
        f"epochs {epochs}: train acc {hist['accuracy'][-1]:.4f}, val acc {hist['val_accuracy'][-1]:.4f}"
    )
    print(f"test loss {test['loss']:.4f}, test accuracy {test['accuracy']:.4f}")
    plt = pyplot()
    if plt is not None and (args.out or not args.quick):
        axes = hist.plot()  # learning curves: loss and accuracy, training vs validation
        fig = axes[0].figure
        fig.suptitle(f"Digits MLP: test accuracy {test['accuracy']:.1%} after {epochs} epochs")
        save(plt, fig, args.out, "digits_mlp_history.png")
    return test


if __name__ == "__main__":
    main()
