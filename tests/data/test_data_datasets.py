"""Dataset readers: the embedded digits, MNIST-style IDX files and CIFAR-10 binary batches."""

from __future__ import annotations

import gzip
import hashlib
import struct
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from dlx.data import load_cifar10, load_digits, load_fashion_mnist, load_mnist

# --------------------------------------------------------------------------- digits


def test_load_digits_shapes_dtypes_and_range() -> None:
    x, y = load_digits()
    assert x.shape == (1797, 1, 8, 8)
    assert x.dtype == np.float32
    assert y.shape == (1797,)
    assert y.dtype == np.int64
    assert x.min() == 0.0
    assert x.max() == 1.0
    np.testing.assert_array_equal(
        np.bincount(y), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    )
    np.testing.assert_array_equal(y[:10], np.arange(10))
    raw, _ = load_digits(raw=True)
    assert raw.dtype == np.uint8
    assert raw.max() == 16
    np.testing.assert_array_equal(raw / 16, x)


def test_load_digits_first_image_is_a_zero() -> None:
    raw, _ = load_digits(raw=True)
    assert raw[0, 0, 0].tolist() == [0, 0, 5, 13, 9, 1, 0, 0]  # the well-known first row


def test_embedded_digits_file_is_the_scikit_learn_copy() -> None:
    blob = resources.files("dlx.data").joinpath("digits.csv.gz").read_bytes()
    digest = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"
    assert hashlib.sha256(blob).hexdigest() == digest
    assert resources.files("dlx.data").joinpath("DIGITS_LICENSE.txt").is_file()


# --------------------------------------------------------------------------- IDX


def _idx(data: np.ndarray) -> bytes:
    return bytes([0, 0, 8, data.ndim]) + struct.pack(f">{data.ndim}I", *data.shape) + data.tobytes()


def _write(path: Path, blob: bytes, gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        blob = gzip.compress(blob)
    path.write_bytes(blob)
    return path


def _mnist(root: Path, prefix: str = "train", n: int = 5, gz: bool = False, sep: str = "-"):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    _write(root / f"{prefix}-images{sep}idx3-ubyte", _idx(images), gz)
    _write(root / f"{prefix}-labels{sep}idx1-ubyte", _idx(labels), gz)
    return images, labels


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("kind", ["train", "test"])
def test_load_mnist_reads_idx_files(tmp_path, gz, kind) -> None:
    images, labels = _mnist(tmp_path, "train" if kind == "train" else "t10k", gz=gz)
    x, y = load_mnist(tmp_path, kind)
    assert x.shape == (5, 1, 28, 28)
    assert x.dtype == np.float32
    np.testing.assert_allclose(x[:, 0], images / 255, rtol=1e-6)
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, labels)
    xr, _ = load_mnist(tmp_path, kind, raw=True)
    np.testing.assert_array_equal(xr[:, 0], images)


def test_load_fashion_mnist_torchvision_layout_and_dot_names(tmp_path) -> None:
    images, labels = _mnist(tmp_path / "FashionMNIST" / "raw", "t10k", n=3, sep=".")
    x, y = load_fashion_mnist(tmp_path, "test", raw=True)
    np.testing.assert_array_equal(x[:, 0], images)
    np.testing.assert_array_equal(y, labels)


def test_load_mnist_missing_file_says_where_to_get_it(tmp_path) -> None:
    _mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path)
    msg = str(info.value)
    assert "'train-labels-idx1-ubyte'" in msg
    assert "'train-labels-idx1-ubyte.gz'" in msg
    assert str(tmp_path) in msg
    assert str(tmp_path / "MNIST" / "raw") in msg
    assert "yann.lecun.com/exdb/mnist" in msg
    assert "Nothing is downloaded" in msg
    with pytest.raises(FileNotFoundError, match="fashion-mnist"):
        load_fashion_mnist(tmp_path, "test")
    with pytest.raises(FileNotFoundError, match=r"`root` .* is not a directory"):
        load_mnist(tmp_path / "nope")
    with pytest.raises(ValueError, match='`kind` must be "train" or "test", got \'val\''):
        load_mnist(tmp_path, "val")


def test_idx_swapped_files_and_bad_magic_raise(tmp_path) -> None:
    images, labels = _mnist(tmp_path)
    _write(tmp_path / "train-images-idx3-ubyte", _idx(labels))
    with pytest.raises(ValueError, match=r"magic 0x00000803 .* got 0x00000801 \(a labels file\?\)"):
        load_mnist(tmp_path)
    _write(tmp_path / "train-images-idx3-ubyte", b"\x89PNG" + bytes(100))
    with pytest.raises(ValueError, match="not an IDX file"):
        load_mnist(tmp_path)
    _write(
        tmp_path / "train-images-idx3-ubyte",
        _idx(images.astype(">i4")).replace(b"\x08", b"\x0c", 1),
    )
    with pytest.raises(ValueError, match="got 0x00000c03"):
        load_mnist(tmp_path)


def test_idx_size_checked_before_allocating(tmp_path) -> None:
    images, _ = _mnist(tmp_path)
    blob = _idx(images)
    _write(tmp_path / "train-images-idx3-ubyte", blob[:-1])
    with pytest.raises(ValueError, match="need a file of 3936 bytes, but it has 3935"):
        load_mnist(tmp_path)
    # A header claiming 4e9 images (~3 TB) must fail on the size check, not in malloc.
    huge = bytes([0, 0, 8, 3]) + struct.pack(">3I", 4_000_000_000, 28, 28) + bytes(64)
    _write(tmp_path / "train-images-idx3-ubyte", huge)
    with pytest.raises(ValueError, match="implausibly large"):
        load_mnist(tmp_path)
    big = bytes([0, 0, 8, 3]) + struct.pack(">3I", 1_000_000, 28, 28) + bytes(64)
    _write(tmp_path / "train-images-idx3-ubyte", big)
    with pytest.raises(ValueError, match="truncated or corrupt"):
        load_mnist(tmp_path)
    (tmp_path / "train-images-idx3-ubyte").unlink()
    _write(tmp_path / "train-images-idx3-ubyte", big, gz=True)
    with pytest.raises(ValueError, match=r"gzip stream holds 80 .*truncated or corrupt"):
        load_mnist(tmp_path)


def test_idx_gzip_corruption_raises_valueerror(tmp_path) -> None:
    images, _labels = _mnist(tmp_path, gz=True)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    good = path.read_bytes()
    corrupt = bytearray(good)
    corrupt[len(corrupt) // 2] ^= 0xFF
    path.write_bytes(bytes(corrupt))
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte.gz"):
        load_mnist(tmp_path)
    path.write_bytes(b"\x1f\x8b" + bytes(5))
    with pytest.raises(ValueError, match="corrupt gzip data"):
        load_mnist(tmp_path)
    # trailing data after the declared pixels (trailer size adjusted to match the header)
    blob = _idx(images) + b"xx"
    stream = bytearray(gzip.compress(blob))
    stream[-4:] = (len(blob) - 2).to_bytes(4, "little")
    path.write_bytes(bytes(stream))
    with pytest.raises(ValueError, match="unexpected data after"):
        load_mnist(tmp_path)


def test_idx_images_labels_disagree(tmp_path) -> None:
    _images, labels = _mnist(tmp_path)
    _write(tmp_path / "train-labels-idx1-ubyte", _idx(labels[:4]))
    with pytest.raises(ValueError, match=r"holds 5 images but .* holds 4 labels"):
        load_mnist(tmp_path)
    _write(tmp_path / "train-labels-idx1-ubyte", _idx(np.full(5, 12, np.uint8)))
    with pytest.raises(ValueError, match=r"has label 12; labels must be 0..9"):
        load_mnist(tmp_path)


def test_idx_empty_set(tmp_path) -> None:
    _write(tmp_path / "t10k-images-idx3-ubyte", _idx(np.zeros((0, 28, 28), np.uint8)))
    _write(tmp_path / "t10k-labels-idx1-ubyte", _idx(np.zeros(0, np.uint8)))
    x, y = load_mnist(tmp_path, "test")
    assert x.shape == (0, 1, 28, 28)
    assert y.shape == (0,)


# --------------------------------------------------------------------------- CIFAR-10


def _cifar_batch(path: Path, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    records = np.concatenate([labels[:, None], images.reshape(n, -1)], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(records.tobytes())
    return images, labels


@pytest.mark.parametrize("sub", ["", "cifar-10-batches-bin"])
def test_load_cifar10_train_and_test(tmp_path, sub) -> None:
    base = tmp_path / sub
    parts = [_cifar_batch(base / f"data_batch_{i}.bin", i, seed=i) for i in range(1, 6)]
    test_images, test_labels = _cifar_batch(base / "test_batch.bin", 4, seed=9)
    x, y = load_cifar10(tmp_path)
    assert x.shape == (15, 3, 32, 32)
    assert x.dtype == np.float32
    assert y.dtype == np.int64
    np.testing.assert_allclose(x, np.concatenate([p[0] for p in parts]) / 255, rtol=1e-6)
    np.testing.assert_array_equal(y, np.concatenate([p[1] for p in parts]))
    xt, yt = load_cifar10(tmp_path, train=False, raw=True)
    assert xt.flags.c_contiguous
    np.testing.assert_array_equal(xt, test_images)
    np.testing.assert_array_equal(yt, test_labels)


def test_load_cifar10_missing_batch_names_it(tmp_path) -> None:
    for i in (1, 2, 4, 5):
        _cifar_batch(tmp_path / f"data_batch_{i}.bin", 2, seed=i)
    with pytest.raises(FileNotFoundError) as info:
        load_cifar10(tmp_path)
    msg = str(info.value)
    assert "'data_batch_3.bin'" in msg
    assert str(tmp_path) in msg
    assert "https://www.cs.toronto.edu/~kriz/cifar.html" in msg


def test_load_cifar10_points_out_the_pickle_version(tmp_path) -> None:
    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"\x80\x04")
    with pytest.raises(
        FileNotFoundError, match=r"Python version .* does not read because unpickling"
    ):
        load_cifar10(tmp_path)


def test_load_cifar10_bad_sizes_and_labels(tmp_path) -> None:
    _cifar_batch(tmp_path / "test_batch.bin", 2, seed=0)
    with (tmp_path / "test_batch.bin").open("ab") as f:
        f.write(b"\0")
    with pytest.raises(
        ValueError, match="whole number of 3073-byte records, but the file has 6147"
    ):
        load_cifar10(tmp_path, train=False)
    (tmp_path / "test_batch.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="has 0 bytes"):
        load_cifar10(tmp_path, train=False)
    (tmp_path / "test_batch.bin").write_bytes(bytes([10]) + bytes(3072))
    with pytest.raises(ValueError, match="record 0 has label 10"):
        load_cifar10(tmp_path, train=False)
