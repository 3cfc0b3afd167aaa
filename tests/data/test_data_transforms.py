"""Batch transforms: values against plain loops, seeding, no input mutation, errors."""

from __future__ import annotations

import numpy as np
import pytest

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


@pytest.fixture
def images(rng) -> np.ndarray:
    return rng.random((5, 3, 7, 6)).astype(np.float32)


def test_normalize_per_channel(images, dtype) -> None:
    x = images.astype(dtype)
    mean, std = [0.1, 0.5, 0.9], [0.2, 0.3, 0.4]
    out = Normalize(mean, std)(x)
    assert out.dtype == dtype
    for c in range(3):
        np.testing.assert_allclose(out[:, c], (x[:, c] - mean[c]) / std[c], rtol=1e-6)


def test_normalize_scalar_features_and_integer_input() -> None:
    x = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = Normalize(2.0, 4.0)(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, (x - 2.0) / 4.0)
    feat = Normalize([0, 1, 2, 3], [1, 1, 1, 2])(x.astype(np.float64))
    np.testing.assert_allclose(feat, (x - np.arange(4)) / [1, 1, 1, 2])


def test_normalize_errors_name_the_argument(images) -> None:
    with pytest.raises(ValueError, match=r"`std` must be positive, got \[1.0, 0.0\]"):
        Normalize([0, 0], [1, 0])
    with pytest.raises(ValueError, match="`mean` has 3 values but `std` has 2"):
        Normalize([0, 0, 0], [1, 1])
    with pytest.raises(
        ValueError, match=r"2 channel values need axis 1 of size 2, got shape \(5, 3, 7, 6\)"
    ):
        Normalize([0, 0], [1, 1])(images)


def test_onehot_values_shape_and_dtype() -> None:
    y = np.array([2, 0, 1, 2])
    out = OneHot(3)(y)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.eye(3)[y])
    assert OneHot(4, dtype=np.float64)(np.zeros((2, 3), np.int64)).shape == (2, 3, 4)
    assert OneHot(4)(np.zeros(0, np.int64)).shape == (0, 4)


def test_onehot_errors() -> None:
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\), got values in \[0, 3\]"):
        OneHot(3)(np.array([0, 3]))
    with pytest.raises(TypeError, match="labels must be integers, got dtype float64"):
        OneHot(3)(np.array([0.0]))
    with pytest.raises(ValueError, match="`num_classes` must be positive, got 0"):
        OneHot(0)
    with pytest.raises(TypeError, match="`num_classes` must be an int"):
        OneHot(2.5)  # type: ignore[arg-type]


def test_tofloat32_scales_without_touching_input() -> None:
    x = np.array([[0, 128, 255]], np.uint8)
    out = ToFloat32(1 / 255)(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, x / 255, rtol=1e-6)
    f = np.ones(3, np.float32)
    g = ToFloat32(2.0)(f)
    assert g is not f
    np.testing.assert_array_equal(f, 1)
    assert ToFloat32()(np.arange(3)).dtype == np.float32


@pytest.mark.parametrize(
    ("size", "padding"), [(6, 0), ((7, 6), 0), (5, 2), ((4, 3), (1, 3)), ((9, 8), 1)]
)
def test_randomcrop_each_sample_is_a_window_of_the_padded_input(images, size, padding) -> None:
    crop = RandomCrop(size, padding, generator=0)
    out = crop(images)
    th, tw = crop.size
    ph, pw = crop.padding
    assert out.shape == (5, 3, th, tw)
    padded = np.pad(images, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    for n in range(len(images)):  # a plain loop over every offset as the reference
        hits = [
            (i, j)
            for i in range(padded.shape[2] - th + 1)
            for j in range(padded.shape[3] - tw + 1)
            if np.array_equal(padded[n, :, i : i + th, j : j + tw], out[n])
        ]
        assert hits, f"sample {n} is not a crop of its padded image"


def test_randomcrop_varies_per_sample_and_is_seeded(rng) -> None:
    x = np.broadcast_to(rng.random((1, 1, 12, 12)), (64, 1, 12, 12))
    a = RandomCrop(8, padding=2, generator=5)(x)
    b = RandomCrop(8, padding=2, generator=5)(x)
    np.testing.assert_array_equal(a, b)
    assert len({a[n].tobytes() for n in range(64)}) > 10
    assert a.flags.c_contiguous


def test_randomcrop_3d_and_empty_batches(rng) -> None:
    x = rng.random((4, 6, 6))
    assert RandomCrop(4, 1, generator=0)(x).shape == (4, 4, 4)
    assert RandomCrop(4, 1, generator=0)(np.zeros((0, 2, 6, 6))).shape == (0, 2, 4, 4)
    full = RandomCrop(6, generator=0)(x)
    np.testing.assert_array_equal(full, x)


def test_randomcrop_errors(images) -> None:
    with pytest.raises(
        ValueError, match=r"`size` \(9, 9\) is larger than the padded images \(7, 6\)"
    ):
        RandomCrop(9)(images)
    with pytest.raises(ValueError, match="`padding` must be >= 0, got -1"):
        RandomCrop(3, padding=-1)
    with pytest.raises(ValueError, match="`size` must be positive, got 0"):
        RandomCrop(0)
    with pytest.raises(ValueError, match="`size` must be an int or an"):
        RandomCrop((1, 2, 3))
    with pytest.raises(ValueError, match=r"expected a batch of images .* got shape \(3, 4\)"):
        RandomCrop(2)(np.zeros((3, 4)))


def test_horizontal_flip_flips_exactly_the_chosen_samples(images) -> None:
    before = images.copy()
    out = RandomHorizontalFlip(0.5, generator=3)(images)
    np.testing.assert_array_equal(images, before)
    flipped = [np.array_equal(out[n], images[n, ..., ::-1]) for n in range(5)]
    kept = [np.array_equal(out[n], images[n]) for n in range(5)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    np.testing.assert_array_equal(RandomHorizontalFlip(1.0)(images), images[..., ::-1])
    np.testing.assert_array_equal(RandomHorizontalFlip(0.0)(images), images)
    rate = RandomHorizontalFlip(0.3, generator=0)(np.arange(2000.0).reshape(1000, 2))[:, 0] % 2 == 1
    assert 0.25 < rate.mean() < 0.35
    with pytest.raises(ValueError, match=r"`p` must be in \[0, 1\], got 1.5"):
        RandomHorizontalFlip(1.5)


def test_gaussian_noise_statistics_and_dtype(dtype) -> None:
    x = np.full((200, 50), 0.5, dtype)
    out = GaussianNoise(0.1, generator=0)(x)
    assert out.dtype == dtype
    assert abs((out - 0.5).mean()) < 0.005
    assert abs((out - 0.5).std() - 0.1) < 0.005
    np.testing.assert_array_equal(x, 0.5)
    clipped = GaussianNoise(2.0, clip=(0, 1), generator=0)(x)
    assert clipped.min() == 0
    assert clipped.max() == 1
    np.testing.assert_array_equal(GaussianNoise(0.0)(x), x)
    assert GaussianNoise(1.0)(np.zeros(3, np.uint8)).dtype == np.float32
    with pytest.raises(ValueError, match="`std` must be a finite non-negative number, got -1"):
        GaussianNoise(-1)


def test_masking_noise_zeroes_a_fraction_p(rng) -> None:
    x = rng.random((100, 100)) + 1.0
    out = MaskingNoise(0.25, generator=0)(x)
    zero = out == 0
    assert 0.23 < zero.mean() < 0.27
    np.testing.assert_array_equal(out[~zero], x[~zero])  # survivors are not rescaled
    np.testing.assert_array_equal(MaskingNoise(0.0)(x), x)
    with pytest.raises(ValueError, match=r"`p` must be in \[0, 1\), got 1.0"):
        MaskingNoise(1.0)


def test_random_transforms_reproduce_from_state_dict(images) -> None:
    t = Compose(
        [RandomCrop(5, 1, generator=0), Normalize(0.5, 0.25), MaskingNoise(0.2, generator=1)]
    )
    t(images)
    state = t.state_dict()
    assert set(state) == {"0", "2"}
    a = t(images)
    t.load_state_dict(state)
    np.testing.assert_array_equal(t(images), a)
    assert "RandomCrop(size=(5, 5), padding=(1, 1))" in repr(t)


def test_compose_applies_in_order_and_checks_callables() -> None:
    t = Compose([lambda a: a + 1, lambda a: a * 10])
    np.testing.assert_array_equal(t(np.zeros(2)), [10, 10])
    with pytest.raises(TypeError, match="every transform must be callable, got int"):
        Compose([1])  # type: ignore[list-item]


def test_transforms_reject_bad_generator() -> None:
    with pytest.raises(TypeError, match=r"RandomCrop: `generator` must be None"):
        RandomCrop(2, generator=1.5)  # type: ignore[arg-type]
