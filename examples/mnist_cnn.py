"""MNIST CNN: conv-pool-conv-pool-dropout-dense.

python examples/mnist_cnn.py --data ~/data/mnist --epochs 3
"""

from __future__ import annotations

from _common import add_limit, load_mnist_split, parser

import dlx
import dlx.optim
from dlx import nn
from dlx.train import evaluate, fit


def build() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # 32 x 14 x 14
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # 64 x 7 x 7
        nn.Flatten(), nn.Dropout(0.5),
        nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(128, 10),
    )  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = add_limit(parser(__doc__.splitlines()[0], epochs=3, data=True)).parse_args(argv)
    (x, y), (x_te, y_te) = load_mnist_split(args, quick_n=32)

    dlx.manual_seed(args.seed)
    model = build()
    print(model.summary((1, 28, 28)))
    opt = dlx.optim.Adam(model.parameters(), lr=1e-3)
    epochs = 1 if args.quick else args.epochs
    hist = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        (x, y),
        epochs=epochs,
        batch_size=64,
        seed=args.seed,
        verbose=0 if args.quick else 1,
    )
    test = evaluate(model, nn.CrossEntropyLoss(), (x_te, y_te))
    print(f"train loss {hist['loss'][-1]:.4f}, train acc {hist['accuracy'][-1]:.4f}")
    print(f"test loss {test['loss']:.4f}, test accuracy {test['accuracy']:.4f}")
    return test


if __name__ == "__main__":
    main()
