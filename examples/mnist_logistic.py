"""MNIST logistic regression: one Linear(784, 10) layer + softmax cross-entropy.

python examples/mnist_logistic.py --data ~/data/mnist --epochs 5
"""

from __future__ import annotations

from _common import add_limit, load_mnist_split, parser

import dlx
import dlx.optim
from dlx import nn
from dlx.train import evaluate, fit


def main(argv: list[str] | None = None) -> dict[str, float]:
    args = add_limit(parser(__doc__.splitlines()[0], epochs=5, data=True)).parse_args(argv)
    (x, y), (x_te, y_te) = load_mnist_split(args)
    print(f"train {x.shape}, test {x_te.shape}")

    dlx.manual_seed(args.seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))  # softmax is inside the loss
    opt = dlx.optim.SGD(model.parameters(), lr=0.5)
    epochs = 1 if args.quick else args.epochs
    hist = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        (x, y),
        epochs=epochs,
        batch_size=128,
        seed=args.seed,
        verbose=0 if args.quick else 1,
    )
    test = evaluate(model, nn.CrossEntropyLoss(), (x_te, y_te))
    print(f"train loss {hist['loss'][-1]:.4f}, train acc {hist['accuracy'][-1]:.4f}")
    print(f"test loss {test['loss']:.4f}, test accuracy {test['accuracy']:.4f}")
    return test


if __name__ == "__main__":
    main()
