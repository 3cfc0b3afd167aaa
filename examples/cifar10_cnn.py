"""CIFAR-10 CNN with BatchNorm, trained with random-crop + horizontal-flip augmentation.

python examples/cifar10_cnn.py --data ~/data/cifar-10-batches-bin --epochs 10 --limit 10000
"""

from __future__ import annotations

from _common import add_limit, load, parser

import dlx
import dlx.optim
from dlx import nn
from dlx.data import CIFAR10_CLASSES, DataLoader, TensorDataset, load_cifar10
from dlx.data.transforms import Compose, Normalize, RandomCrop, RandomHorizontalFlip
from dlx.train import LRSchedulerCallback, evaluate, fit

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)  # per-channel, training set


def block(c_in: int, c_out: int) -> list[nn.Module]:
    """conv-BN-ReLU twice, then 2x2 max pooling (halves height and width)."""
    return [
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
        nn.MaxPool2d(2),
    ]  # fmt: skip


def build(width: int = 32) -> nn.Sequential:
    return nn.Sequential(
        *block(3, width), *block(width, 2 * width), *block(2 * width, 4 * width),  # 4 x 4 maps
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(4 * width * 4 * 4, 10),
    )  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = add_limit(parser(__doc__.splitlines()[0], epochs=10, data=True))
    p.add_argument("--width", type=int, default=32, help="channels of the first block")
    args = p.parse_args(argv)
    x, y = load(load_cifar10, args.data, train=True)
    x_te, y_te = load(load_cifar10, args.data, train=False)
    n = 16 if args.quick else args.limit
    if n:
        x, y, x_te, y_te = x[:n], y[:n], x_te[:n], y_te[:n]
    norm = Normalize(MEAN, STD)
    x, x_te = norm(x), norm(x_te)
    print(f"train {x.shape}, test {x_te.shape}; classes {', '.join(CIFAR10_CLASSES)}")

    # Augmentation is applied per batch by the loader: pad 4 + random 32x32 crop, random flip.
    augment = Compose(
        [
            RandomCrop(32, padding=4, generator=args.seed),
            RandomHorizontalFlip(generator=args.seed + 1),
        ]
    )
    loader = DataLoader(
        TensorDataset(x, y), batch_size=64, shuffle=True, generator=args.seed, transform=augment
    )

    dlx.manual_seed(args.seed)
    model = build(4 if args.quick else args.width)
    print(model.summary((3, 32, 32)))
    epochs = 1 if args.quick else args.epochs
    opt = dlx.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    sched = dlx.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    hist = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        loader,
        epochs=epochs,
        validation_data=(x_te, y_te),
        callbacks=[LRSchedulerCallback(sched)],
        verbose=0 if args.quick else 1,
    )
    for e, (acc, val) in enumerate(zip(hist["accuracy"], hist["val_accuracy"], strict=True), 1):
        print(f"epoch {e:2d}: train acc {acc:.4f}  test acc {val:.4f}")
    test = evaluate(model, nn.CrossEntropyLoss(), (x_te, y_te))
    print(f"test loss {test['loss']:.4f}, test accuracy {test['accuracy']:.4f}")
    return test


if __name__ == "__main__":
    main()
