"""Datasets: the embedded UCI digits, and MNIST / Fashion-MNIST / CIFAR-10 from local files.

Nothing here downloads: the digits ship inside dlx, and the other sets are read from a
directory the user gives. Every loader returns ``(images, labels)``: images as float32
``(N, C, H, W)`` scaled to [0, 1] (or the stored integers with ``raw=True``) and labels
as int64.
"""

from __future__ import annotations

import gzip
import io
import os
from importlib import resources

import numpy as np

from dlx.data._formats import read_cifar_batches, read_idx

__all__ = [
    "CIFAR10_CLASSES",
    "FASHION_MNIST_CLASSES",
    "load_cifar10",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
]

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip

# digits.csv.gz is a byte-for-byte copy of sklearn/datasets/data/digits.csv.gz from the
# scikit-learn 1.9.1 wheel (sha256 09f66e6d...51e23aa22; BSD-3-Clause, copyright the
# scikit-learn developers: see DIGITS_LICENSE.txt beside it). It is the test set of the
# UCI "Optical Recognition of Handwritten Digits" data (E. Alpaydin, C. Kaynak, 1998):
# 1797 rows of 64 pixel counts 0..16 (8x8 image, row-major) followed by the label 0..9.
_DIGITS_FILE = "digits.csv.gz"
_DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"


def load_digits(*, raw: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The UCI 8x8 handwritten digits (1797 images, 10 classes), embedded in dlx.

    Parameters
    ----------
    raw : bool
        Return the stored uint8 pixel counts (0..16) instead of float32 in [0, 1].

    Returns
    -------
    images : ndarray, shape (1797, 1, 8, 8)
        float32 ``counts / 16`` (or uint8 counts when ``raw``).
    labels : ndarray, shape (1797,)
        int64 digits 0..9.
    """
    blob = resources.files(__package__).joinpath(_DIGITS_FILE).read_bytes()
    table = np.loadtxt(io.BytesIO(gzip.decompress(blob)), delimiter=",", dtype=np.uint8)
    if table.shape != (1797, 65) or table[:, :64].max() > 16 or table[:, 64].max() > 9:
        msg = f"dlx/data/{_DIGITS_FILE} is damaged (got a table of shape {table.shape}); reinstall dlx"
        raise RuntimeError(msg)
    counts = table[:, :64].reshape(-1, 1, 8, 8)
    labels = table[:, 64].astype(np.int64)
    images = np.ascontiguousarray(counts) if raw else np.divide(counts, 16, dtype=np.float32)
    return images, labels


_MNIST_URL = (
    "http://yann.lecun.com/exdb/mnist/ (mirror: https://ossci-datasets.s3.amazonaws.com/mnist/)"
)
_FASHION_URL = "https://github.com/zalandoresearch/fashion-mnist (the four *-ubyte.gz files under data/fashion)"
_CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar.html ('CIFAR-10 binary version', cifar-10-binary.tar.gz)"


def load_mnist(
    root: str | os.PathLike[str], kind: str = "train", *, raw: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST from its IDX files (raw or .gz) in ``root``.

    Looks for ``train-images-idx3-ubyte`` / ``train-labels-idx1-ubyte`` (``kind="train"``,
    60000 images) or ``t10k-images-idx3-ubyte`` / ``t10k-labels-idx1-ubyte``
    (``kind="test"``, 10000), each optionally ``.gz``, also spelled ``images.idx3-ubyte``,
    in ``root``, ``root/raw`` and ``root/MNIST/raw`` (torchvision's layout).

    Returns
    -------
    images : ndarray, shape (N, 1, 28, 28)
        float32 in [0, 1] (``pixels / 255``), or uint8 when ``raw``.
    labels : ndarray, shape (N,)
        int64 digits 0..9.

    Raises
    ------
    FileNotFoundError
        Naming the missing file, the directories searched and where to get it.
    ValueError
        If a file is not a valid IDX file of the expected kind (checked before the
        data is read), or images and labels disagree.
    """
    return _load_idx_pair(root, kind, raw, "load_mnist", "MNIST", _MNIST_URL)


def load_fashion_mnist(
    root: str | os.PathLike[str], kind: str = "train", *, raw: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST from its IDX files: same file names and format as :func:`load_mnist`.

    Also searches ``root/FashionMNIST/raw``. Class names are in
    :data:`FASHION_MNIST_CLASSES`.
    """
    return _load_idx_pair(root, kind, raw, "load_fashion_mnist", "FashionMNIST", _FASHION_URL)


def _load_idx_pair(
    root: str | os.PathLike[str], kind: str, raw: bool, fn: str, subdir: str, url: str
) -> tuple[np.ndarray, np.ndarray]:
    if kind not in ("train", "test"):
        msg = f'{fn}: `kind` must be "train" or "test", got {kind!r}'
        raise ValueError(msg)
    prefix = "train" if kind == "train" else "t10k"
    dirs = _search_dirs(root, fn, ("raw", os.path.join(subdir, "raw")))
    found = []
    for what, ndim in (("images", 3), ("labels", 1)):
        names = [f"{prefix}-{what}-idx{ndim}-ubyte", f"{prefix}-{what}.idx{ndim}-ubyte"]
        found.append(_find(dirs, [n + ext for n in names for ext in ("", ".gz")], fn, url))
    images, labels = read_idx(found[0], 3), read_idx(found[1], 1)
    if images.shape[0] != labels.shape[0]:
        msg = f"{fn}: {found[0]} holds {images.shape[0]} images but {found[1]} holds {labels.shape[0]} labels"
        raise ValueError(msg)
    if labels.size and labels.max() > 9:
        msg = f"{fn}: {found[1]} has label {labels.max()}; labels must be 0..9 (wrong file?)"
        raise ValueError(msg)
    images = images.reshape(images.shape[0], 1, *images.shape[1:])
    return _scaled(images, raw), labels.astype(np.int64)


def load_cifar10(
    root: str | os.PathLike[str], train: bool = True, *, raw: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 from its binary batches (``data_batch_1.bin`` .. ``data_batch_5.bin``,
    ``test_batch.bin``) in ``root`` or ``root/cifar-10-batches-bin``.

    Every file's size is checked (a whole number of 3073-byte records) before the
    output is allocated. The Python (pickle) version of CIFAR-10 is deliberately not
    read: unpickling a downloaded file can run arbitrary code.

    Returns
    -------
    images : ndarray, shape (N, 3, 32, 32)
        float32 in [0, 1] (``pixels / 255``), or uint8 when ``raw``. N = 50000 for
        ``train``, 10000 otherwise (for the official files).
    labels : ndarray, shape (N,)
        int64 classes 0..9, named in :data:`CIFAR10_CLASSES`.
    """
    fn = "load_cifar10"
    dirs = _search_dirs(root, fn, ("cifar-10-batches-bin",))
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] if train else ["test_batch.bin"]
    url = _CIFAR_URL
    if any(os.path.exists(os.path.join(d, "data_batch_1")) for d in _with_py(dirs)):
        url += (
            ". Found the Python version (pickled data_batch_1 ...), which dlx does not read "
            "because unpickling can run arbitrary code"
        )
    # All files come from the directory holding the first one, so two half-copies
    # are never mixed.
    first = _find(dirs, names[:1], fn, url)
    paths = [_find([os.path.dirname(first)], [name], fn, url) for name in names]
    images, labels = read_cifar_batches(paths)
    return _scaled(images, raw), labels


def _search_dirs(root: str | os.PathLike[str], fn: str, subdirs: tuple[str, ...]) -> list[str]:
    base = os.fspath(root)
    if not os.path.isdir(base):
        msg = f"{fn}: `root` {base!r} is not a directory"
        raise FileNotFoundError(msg)
    return [base, *(os.path.join(base, s) for s in subdirs)]


def _with_py(dirs: list[str]) -> list[str]:
    return [*dirs, os.path.join(dirs[0], "cifar-10-batches-py")]


def _find(dirs: list[str], names: list[str], fn: str, url: str) -> str:
    """The first existing dirs x names path, or a FileNotFoundError saying what to do."""
    for d in dirs:
        for name in names:
            path = os.path.join(d, name)
            if os.path.isfile(path):
                return path
    alternatives = " or ".join(repr(n) for n in names)
    msg = (
        f"{fn}: missing file {alternatives}; searched {', '.join(dirs)}. Nothing is "
        f"downloaded automatically: get the files from {url} and pass their directory as `root`"
    )
    raise FileNotFoundError(msg)


def _scaled(images: np.ndarray, raw: bool) -> np.ndarray:
    if raw:
        return np.ascontiguousarray(images)
    return np.divide(images, 255, dtype=np.float32)
