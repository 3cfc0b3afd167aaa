"""Data loading: datasets, a batching DataLoader, batch transforms and dataset readers.

Import it explicitly (``import dlx.data`` or ``from dlx.data import DataLoader``)::

    from dlx.data import DataLoader, TensorDataset, load_digits, train_val_split
    from dlx.data.transforms import Compose, Normalize, RandomCrop

    x, y = load_digits()
    (x_tr, y_tr), (x_va, y_va) = train_val_split(x, y, val_fraction=0.2, seed=0)
    loader = DataLoader(TensorDataset(x_tr, y_tr), batch_size=64, shuffle=True, generator=0)

Worker processes (``num_workers=2``), samplers (:mod:`dlx.data.sampler`) and
:func:`get_worker_info` follow PyTorch's ``torch.utils.data``.
"""

from __future__ import annotations

from dlx.data import transforms
from dlx.data._worker import WorkerInfo, get_worker_info
from dlx.data.dataset import (
    Dataset,
    Subset,
    TensorDataset,
    bootstrap,
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
from dlx.data.sampler import (
    BatchSampler,
    DistributedSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
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
    "BatchSampler",
    "Compose",
    "DataLoader",
    "Dataset",
    "DistributedSampler",
    "GaussianNoise",
    "MaskingNoise",
    "Normalize",
    "OneHot",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "ToFloat32",
    "WeightedRandomSampler",
    "WorkerInfo",
    "bootstrap",
    "default_collate",
    "get_worker_info",
    "load_cifar10",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "random_split",
    "train_val_split",
    "transforms",
]
