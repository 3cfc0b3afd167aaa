"""What ``dlx train`` trains: the datasets it loads, its two small models, its optimisers."""

from __future__ import annotations

from typing import Any

import numpy as np

DATASETS = ("digits", "mnist", "fashion", "cifar10")
DATASET_HELP = (
    "digits: the 1,797 8x8 handwritten digits shipped with dlx, split into train and test "
    "by --test-fraction and --seed; mnist, fashion: MNIST / Fashion-MNIST IDX files "
    "(train + t10k, raw or .gz) in --data; cifar10: the CIFAR-10 binary batches in --data"
)
OPTIMIZERS = {  # name: (class name in dlx.optim, default learning rate)
    "sgd": ("SGD", 0.05),
    "adam": ("Adam", 3e-3),
    "adamw": ("AdamW", 3e-3),
    "nadam": ("NAdam", 3e-3),
    "radam": ("RAdam", 3e-3),
    "rmsprop": ("RMSprop", 1e-3),
    "adagrad": ("Adagrad", 0.05),
    "adadelta": ("Adadelta", 1.0),
}
TEST_FRACTION = 0.2


# -- data -----------------------------------------------------------------------------------
def check_data_args(dataset: str, data_dir: str | None, test_fraction: float | None) -> None:
    """Reject option combinations that would be silently ignored."""
    if dataset == "digits" and data_dir is not None:
        msg = (
            "`--data` is for --dataset mnist, fashion or cifar10; the digits ship with dlx "
            "(drop --data, or choose the dataset its files hold)"
        )
        raise ValueError(msg)
    if dataset != "digits" and data_dir is None:
        msg = f"--dataset {dataset} needs --data DIR (the directory holding its files)"
        raise ValueError(msg)
    if dataset != "digits" and test_fraction is not None:
        msg = f"`--test-fraction` splits the digits; {dataset} has its own test set"
        raise ValueError(msg)


def load_data(
    dataset: str, data_dir: str | None, seed: int, test_fraction: float = TEST_FRACTION
) -> tuple[tuple, tuple]:
    """``((x_train, y_train), (x_test, y_test))``; digits are split with ``seed``."""
    from dlx import data

    if dataset == "digits":
        x, y = data.load_digits()
        return data.train_val_split(x, y, val_fraction=test_fraction, seed=seed)
    assert data_dir is not None
    if dataset == "cifar10":
        return data.load_cifar10(data_dir, train=True), data.load_cifar10(data_dir, train=False)
    load = data.load_mnist if dataset == "mnist" else data.load_fashion_mnist
    return load(data_dir, "train"), load(data_dir, "test")


def class_names(dataset: str) -> list[str] | None:
    from dlx import data

    names = {"cifar10": data.CIFAR10_CLASSES, "fashion": data.FASHION_MNIST_CLASSES}
    return list(names[dataset]) if dataset in names else None


# -- models ---------------------------------------------------------------------------------
def build_model(kind: str, input_shape: tuple[int, ...], n_classes: int) -> Any:
    """The CLI's small models: ``mlp`` (Flatten, Linear-ReLU x2, Linear) or ``cnn``
    (conv-relu-pool x2, dropout, linear; channel widths grow with the image size)."""
    from dlx import nn

    if kind == "mlp":
        n_in = int(np.prod(input_shape))
        hidden = 128 if n_in <= 256 else 256
        return nn.Sequential(
            nn.Flatten(),
            nn.Linear(n_in, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_classes),
        )
    c, h, w = input_shape
    c1, c2 = (16, 32) if h <= 8 else (32, 64)
    return nn.Sequential(
        nn.Conv2d(c, c1, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.25),
        nn.Linear(c2 * (h // 4) * (w // 4), n_classes),
    )


def make_optimizer(name: str, params: Any, lr: float | None) -> Any:
    from dlx import optim

    cls_name, default_lr = OPTIMIZERS[name]
    kwargs: dict[str, Any] = {"lr": default_lr if lr is None else lr}
    if name == "sgd":
        kwargs["momentum"] = 0.9
    return getattr(optim, cls_name)(params, **kwargs)
