"""Unary math (sin ... frac) and the binary pointwise ops (atan2, fmod, remainder, lerp,
addcmul/addcdiv, floor_divide, nan_to_num, clamp with tensor bounds): NumPy references,
PyTorch oracle, float64 gradcheck, dtype rules, in-place forms, errors."""

from __future__ import annotations

import numpy as np
import pytest
from tensor_oracle import compare_with_torch, gradcheck_arrays

import dlx

R = np.random.default_rng(7)

# name -> (numpy reference, domain low, high)
UNARY = {
    "sin": (np.sin, -3, 3),
    "cos": (np.cos, -3, 3),
    "tan": (np.tan, -1.2, 1.2),
    "asin": (np.arcsin, -0.9, 0.9),
    "acos": (np.arccos, -0.9, 0.9),
    "atan": (np.arctan, -3, 3),
    "sinh": (np.sinh, -2, 2),
    "cosh": (np.cosh, -2, 2),
    "exp2": (np.exp2, -2, 2),
    "expm1": (np.expm1, -2, 2),
    "log1p": (np.log1p, -0.5, 2),
    "log2": (np.log2, 0.2, 3),
    "log10": (np.log10, 0.2, 3),
    "rsqrt": (lambda a: 1 / np.sqrt(a), 0.2, 3),
    "reciprocal": (np.reciprocal, 0.3, 3),
    "square": (np.square, -2, 2),
    "frac": (lambda a: a - np.trunc(a), -3.3, 3.3),
}
ROUNDING = {
    "sign": np.sign,
    "floor": np.floor,
    "ceil": np.ceil,
    "round": np.round,
    "trunc": np.trunc,
}


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unary_matches_numpy(name, dtype):
    ref, lo, hi = UNARY[name]
    a = R.uniform(lo, hi, (3, 4)).astype(dtype)
    x = dlx.tensor(a)
    for out in (getattr(dlx, name)(x), getattr(x, name)()):
        assert out.dtype == dtype
        tol = {"rtol": 1e-6, "atol": 1e-6} if dtype == np.float32 else {"rtol": 1e-12}
        np.testing.assert_allclose(out.numpy(), ref(a), **tol)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradcheck(name):
    _, lo, hi = UNARY[name]
    a = R.uniform(lo, hi, (2, 3))
    if name == "frac":
        a = np.trunc(a) + np.clip(a - np.trunc(a), 0.1, 0.9) * np.sign(a)
    gradcheck_arrays(lambda x: getattr(x, name)(), [a])


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_matches_torch(name):
    _, lo, hi = UNARY[name]
    a = R.uniform(lo, hi, (2, 3))
    compare_with_torch(lambda L, x: getattr(L, name)(x), [a])


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(ROUNDING))
def test_rounding_matches_torch_and_has_zero_gradient(name):
    a = np.array([-2.5, -1.5, -0.4, 0.0, 0.5, 1.5, 2.7])
    compare_with_torch(lambda L, x: getattr(L, name)(x) * x, [a])
    np.testing.assert_allclose(getattr(dlx, name)(dlx.tensor(a)).numpy(), ROUNDING[name](a))


def test_round_decimals_and_integer_inputs():
    x = dlx.tensor([1.2345, -2.5678], dtype=dlx.float64)
    np.testing.assert_allclose(x.round(decimals=2).numpy(), [1.23, -2.57])
    i = dlx.tensor([3, -2])
    assert i.floor().dtype == np.int64
    np.testing.assert_array_equal(i.floor().numpy(), [3, -2])
    assert dlx.sign(dlx.tensor([True, False])).dtype == np.bool_
    assert dlx.square(dlx.tensor([True])).dtype == np.int64
    assert dlx.square(dlx.tensor([3])).numpy().tolist() == [9]


@pytest.mark.parametrize("name", ["sin", "exp2", "log1p", "rsqrt", "atan"])
def test_integer_inputs_promote_to_float32(name):
    out = getattr(dlx, name)(dlx.tensor([1, 2, 3]))
    assert out.dtype == np.float32


def test_domain_edges_give_nan_and_inf_silently():
    with np.errstate(all="raise"):
        assert np.isnan(dlx.asin(dlx.tensor([2.0])).item())
        assert dlx.log1p(dlx.tensor([-1.0])).item() == -np.inf
        assert dlx.rsqrt(dlx.tensor([0.0])).item() == np.inf
        assert dlx.reciprocal(dlx.tensor([0.0])).item() == np.inf


def test_frac_refuses_integers():
    with pytest.raises(TypeError, match="floating"):
        dlx.frac(dlx.tensor([1, 2]))


@pytest.mark.torch
@pytest.mark.parametrize(
    "name",
    ["sin_", "cos_", "exp_", "log_", "sqrt_", "abs_", "neg_", "sigmoid_", "tanh_", "relu_",
     "square_", "floor_", "reciprocal_", "rsqrt_", "expm1_", "log1p_", "atan_"],
)  # fmt: skip
def test_unary_inplace_forms_match_torch(name):
    a = R.uniform(0.2, 1.5, (2, 3)) * R.choice([-1.0, 1.0], (2, 3))
    if name in ("log_", "sqrt_", "rsqrt_"):
        a = np.abs(a)

    def f(L, x):
        y = x * 1.0
        out = getattr(y, name)()
        assert out is y
        return y * x

    compare_with_torch(f, [a])


# -- binary -----------------------------------------------------------------------------------
@pytest.mark.torch
@pytest.mark.parametrize(
    ("name", "fn", "arrays"),
    [
        ("atan2", lambda L, a, b: L.atan2(a, b), [R.standard_normal((2, 3)), R.standard_normal(3)]),
        (
            "fmod",
            lambda L, a, b: L.fmod(a, b),
            [np.array([[2.3, -2.5, 3.4], [-0.7, 5.1, -4.3]]), np.array([1.05, 1.1, -1.5])],
        ),
        (
            "remainder",
            lambda L, a, b: L.remainder(a, b),
            [np.array([[2.3, -2.5, 3.4], [-0.7, 5.1, -4.3]]), np.array([1.05, 1.1, -1.5])],
        ),
        ("mod_operator", lambda L, a, b: a % b, [np.array([2.3, -2.5, 3.4]), np.array([1.1, 1.2, 1.3])]),
        ("fmod_scalar", lambda L, a: L.fmod(a, 1.5), [np.array([2.3, -2.5, 3.4])]),
        (
            "lerp",
            lambda L, a, b, w: L.lerp(a, b, w),
            [R.standard_normal((2, 3)), R.standard_normal((2, 3)), R.uniform(0, 1, 3)],
        ),
        ("lerp_scalar", lambda L, a, b: a.lerp(b, 0.3), [R.standard_normal(3), R.standard_normal(3)]),
        (
            "addcmul",
            lambda L, a, b, c: L.addcmul(a, b, c, value=0.5),
            [R.standard_normal(3), R.standard_normal(3), R.standard_normal(3)],
        ),
        (
            "addcdiv",
            lambda L, a, b, c: L.addcdiv(a, b, c, value=-2),
            [R.standard_normal(3), R.standard_normal(3), R.uniform(1, 2, 3)],
        ),
        (
            "clamp_tensor",
            lambda L, x, lo, hi: L.clamp(x, lo, hi),
            [np.array([0.0, 1.0, 2.0, 3.0, 4.0, 2.5]), np.array([1.0, 1, 1, 1, 1, 3]),
             np.array([3.0, 3, 3, 3, 3, 2])],
        ),
        ("clamp_min_tensor", lambda L, x, lo: x.clamp(min=lo), [R.standard_normal((2, 3)), R.standard_normal(3)]),
        ("clamp_max_scalar", lambda L, x: L.clamp_max(x, 0.2), [R.standard_normal(4)]),
        (
            "nan_to_num",
            lambda L, x: L.nan_to_num(x, nan=1.5, posinf=9.0) * 0.5,
            [np.array([1.0, np.nan, np.inf, -np.inf, -2.0])],
        ),
    ],
)  # fmt: skip
def test_binary_ops_match_torch(name, fn, arrays):
    compare_with_torch(fn, arrays)


@pytest.mark.parametrize(
    ("fn", "arrays"),
    [
        (lambda a, b: dlx.atan2(a, b), [R.standard_normal(4), R.uniform(0.5, 1, 4)]),
        (lambda a, b: dlx.fmod(a, b), [np.array([2.3, -2.5]), np.array([1.05, 1.1])]),
        (lambda a, b: dlx.remainder(a, b), [np.array([2.3, -2.5]), np.array([1.05, 1.1])]),
        (lambda a, b, w: dlx.lerp(a, b, w), [R.standard_normal(3)] * 2 + [R.uniform(0, 1, 3)]),
        (
            lambda x, lo, hi: dlx.clamp(x, lo, hi),
            [np.array([-0.9, 0.1, 0.9]), np.array([-0.5, -0.5, -0.5]), np.array([0.5] * 3)],
        ),
    ],
)
def test_binary_gradcheck(fn, arrays):
    gradcheck_arrays(fn, arrays)


def test_floor_divide_and_operator():
    a = dlx.tensor([7, -7, 5])
    np.testing.assert_array_equal((a // 2).numpy(), [3, -4, 2])
    np.testing.assert_array_equal(dlx.floor_divide(a, dlx.tensor([2, 2, -2])).numpy(), [3, -4, -3])
    f = dlx.tensor([7.5, -7.5])
    assert (f // 2).dtype == np.float32
    np.testing.assert_allclose((f // 2).numpy(), [3.0, -4.0])
    np.testing.assert_allclose((10 // dlx.tensor([3.0])).numpy(), [3.0])


def test_binary_shape_errors_name_both_shapes():
    with pytest.raises(ValueError, match=r"\(2,\) and \(3,\)"):
        dlx.atan2(dlx.ones(2), dlx.ones(3))
    with pytest.raises(ValueError, match="clamp"):
        dlx.clamp(dlx.ones(2), dlx.ones(3))
    with pytest.raises(ValueError, match="at least one"):
        dlx.clamp(dlx.ones(2))


def test_pointwise_inplace_forms():
    x = dlx.tensor([1.0, 2.0, 3.0])
    x.lerp_(dlx.tensor([3.0, 2.0, 1.0]), 0.5)
    np.testing.assert_allclose(x.numpy(), [2.0, 2.0, 2.0])
    x.addcmul_(dlx.tensor([1.0, 2.0, 3.0]), dlx.tensor([2.0, 2.0, 2.0]), value=0.5)
    np.testing.assert_allclose(x.numpy(), [3.0, 4.0, 5.0])
    x.addcdiv_(dlx.tensor([1.0, 1.0, 1.0]), dlx.tensor([2.0, 4.0, 8.0]), value=-1)
    np.testing.assert_allclose(x.numpy(), [2.5, 3.75, 4.875])
    x.fmod_(2)
    np.testing.assert_allclose(x.numpy(), [0.5, 1.75, 0.875])
