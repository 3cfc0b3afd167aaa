"""MNIST MLP: 784-256-256-10 with ReLU, trained with Adam.

python examples/mnist_mlp.py --data ~/data/mnist --epochs 10
"""

from __future__ import annotations

from _common import add_limit, load_mnist_split, parser

import dlx
import dlx.optim
from dlx import nn
from dlx.train import evaluate, fit


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = add_limit(parser(__doc__.splitlines()[0], epochs=10, data=True)).parse_args(argv)
    (x, y), (x_te, y_te) = load_mnist_split(args)

    dlx.manual_seed(args.seed)
    model = nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 256), nn.ReLU(),
        nn.Linear(256, 256), nn.ReLU(),
        nn.Linear(256, 10),
    )  # fmt: skip
    print(model.summary((1, 28, 28)))
    opt = dlx.optim.Adam(model.parameters(), lr=1e-3)
    epochs = 1 if args.quick else args.epochs
    hist = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        (x, y),
        epochs=epochs,
        batch_size=128,
        validation_data=(x_te, y_te),
        seed=args.seed,
        verbose=0 if args.quick else 1,
    )
    for e, (acc, val) in enumerate(zip(hist["accuracy"], hist["val_accuracy"], strict=True), 1):
        print(f"epoch {e:2d}: train acc {acc:.4f}  test acc {val:.4f}")
    test = evaluate(model, nn.CrossEntropyLoss(), (x_te, y_te))
    print(f"test loss {test['loss']:.4f}, test accuracy {test['accuracy']:.4f}")
    return test


if __name__ == "__main__":
    main()
