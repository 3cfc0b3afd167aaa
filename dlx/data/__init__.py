"""Data loading: datasets, a batching DataLoader, batch transforms and dataset readers.

Import it explicitly (``import dlx.data`` or ``from dlx.data import DataLoader``)::

    from dlx.data import DataLoader, TensorDataset, load_digits, train_val_split
    from dlx.data.transforms import Compose, Normalize, RandomCrop

    x, y = load_digits()
    (x_tr, y_tr), (x_va, y_va) = train_val_split(x, y, val_fraction=0.2, seed=0)
    loader = DataLoader(TensorDataset(x_tr, y_tr), batch_size=64, shuffle=True, generator=0)
"""

from __future__ import annotations

from dlx.data import transforms
from dlx.data.dataset import (
    Dataset,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
    train_val_split,
)
from dlx.data.datasets import (
    CIFAR10_CLASSES,
    FASHION_MNIST_CLASSES,
    load_cifar10,
    load_digits,
    load_fashion_mnist,
    load_mnist,
)
from dlx.data.loader import DataLoader
from dlx.data.transforms import (
    Compose,
    GaussianNoise,
    MaskingNoise,
    Normalize,
    OneHot,
    RandomCrop,
    RandomHorizontalFlip,
    ToFloat32,
)

__all__ = [
    "CIFAR10_CLASSES",
    "FASHION_MNIST_CLASSES",
    "Compose",
    "DataLoader",
    "Dataset",
    "GaussianNoise",
    "MaskingNoise",
    "Normalize",
    "OneHot",
    "RandomCrop",
    "RandomHorizontalFlip",
    "Subset",
    "TensorDataset",
    "ToFloat32",
    "default_collate",
    "load_cifar10",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "random_split",
    "train_val_split",
    "transforms",
]
