"""Classification: a small CNN on the 8x8 digits (about 98-99% test accuracy).

Saves ``digits_cnn_evaluation.png`` (confusion matrix and the misclassified test digits)
with matplotlib.

python examples/digits_cnn.py --epochs 20
"""

from __future__ import annotations

from _common import out_path, parser, pyplot

import dlx
import dlx.optim
from dlx import nn
from dlx.data import load_digits, train_val_split
from dlx.train import evaluate, fit, predict
from dlx.train.plots import save_evaluation_figure


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = parser(__doc__.splitlines()[0], epochs=20).parse_args(argv)
    x, y = load_digits()
    if args.quick:
        x, y = x[:200], y[:200]
    (x_tr, y_tr), (x_te, y_te) = train_val_split(x, y, val_fraction=0.2, seed=args.seed)

    dlx.manual_seed(args.seed)
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),   # 16 x 8 x 8
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),     # 32 x 4 x 4
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(32 * 4 * 4, 10),
    )  # fmt: skip
    print(model.summary((1, 8, 8)))
    opt = dlx.optim.Adam(model.parameters(), lr=2e-3)
    epochs = 1 if args.quick else args.epochs
    hist = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        (x_tr, y_tr),
        epochs=epochs,
        batch_size=32,
        seed=args.seed,
        verbose=0,
    )
    test = evaluate(model, nn.CrossEntropyLoss(), (x_te, y_te))
    print(
        f"epochs {epochs}: train loss {hist['loss'][-1]:.4f}, train acc {hist['accuracy'][-1]:.4f}"
    )
    print(f"test loss {test['loss']:.4f}, test accuracy {test['accuracy']:.4f}")
    plt = pyplot()
    if plt is not None and (args.out or not args.quick):
        pred = predict(model, x_te).argmax(axis=1)
        path = out_path(args.out, "digits_cnn_evaluation.png")
        title = f"Digits CNN after {epochs} epochs: {len(x_te)} test digits"
        save_evaluation_figure(path, x_te, y_te, pred, title=title)  # confusion + mistakes
        print(f"plot saved to {path}")
    return test


if __name__ == "__main__":
    main()
