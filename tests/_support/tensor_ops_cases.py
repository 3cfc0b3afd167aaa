"""gradgradcheck cases for the Tensor-surface ops (merged into CASES of
test_double_backward.py, whose completeness test needs a case per double-backward op)."""

from __future__ import annotations

import numpy as np

import dlx

R = np.random.default_rng(4321)


def t(shape, low=-1.0, high=1.0):
    return dlx.tensor(R.uniform(low, high, shape), requires_grad=True)


def distinct(shape):
    n = int(np.prod(shape))
    return dlx.tensor(R.permutation(np.linspace(-1, 1, n)).reshape(shape), requires_grad=True)


def v(values):
    return dlx.tensor(np.array(values, dtype=np.float64), requires_grad=True)


def _inplace_mul(a, b):
    y = a * 1.0
    y.mul_(b)
    y += a
    return y * a


def _setitem_view(a, b):
    y = a.clone()
    y[0] = b * a[1]
    y[1:, 1].mul_(2.0)
    return y * y


def _setitem_index(a, b):
    y = a * 1.0
    y[[0, 2]] = b**2
    return y * a


def _masked_fill_inplace(a):
    y = a.clone()
    y.masked_fill_(np.array([True, False, True]), 0.5)
    return y * a


TENSOR_CASES = {
    "sin_cos": (lambda a: a.sin() * a.cos() * a, lambda: (t((4,)),)),
    "tan": (lambda a: a.tan(), lambda: (t((4,)),)),
    "asin_acos": (lambda a: a.asin() + a.acos() * a, lambda: (t((4,), -0.8, 0.8),)),
    "atan": (lambda a: a.atan() * a, lambda: (t((4,), -2.0, 2.0),)),
    "sinh_cosh": (lambda a: a.sinh() * a.cosh(), lambda: (t((4,)),)),
    "exp2_expm1": (lambda a: a.exp2() + a.expm1() * a, lambda: (t((4,)),)),
    "log_variants": (
        lambda a: a.log1p() + a.log2() * a + a.log10(),
        lambda: (t((4,), 0.5, 2.0),),
    ),
    "rsqrt_reciprocal": (
        lambda a: a.rsqrt() + a.reciprocal() * a,
        lambda: (t((4,), 0.5, 2.0),),
    ),
    "square": (lambda a: a.square() * a, lambda: (t((4,)),)),
    "rounding": (
        lambda a: (a.floor() + a.ceil() + a.round() + a.trunc() + a.sign()) * a,
        lambda: (t((4,), 0.1, 0.4),),
    ),
    "frac": (lambda a: a.frac() * a, lambda: (t((4,), 1.1, 1.9),)),
    "atan2": (lambda a, b: dlx.atan2(a, b) * a, lambda: (t((4,)), t((4,), 0.5, 1.5))),
    "fmod_remainder": (
        lambda a, b: dlx.fmod(a, b) * dlx.remainder(a, b) * b,
        lambda: (v([2.3, -2.5, 3.4, -0.7]), v([1.05, 1.1, 1.5, 0.4])),
    ),
    "nan_to_num": (lambda a: dlx.nan_to_num(a) * a, lambda: (t((3,)),)),
    "clamp_tensor_bounds": (
        lambda a, lo, hi: dlx.clamp(a, lo, hi) * a,
        lambda: (v([-0.9, 0.1, 0.9, 0.3]), v([-0.5, -0.5, -0.5, 0.6]), v([0.5, 0.5, 0.5, 0.4])),
    ),
    "inplace_mul": (_inplace_mul, lambda: (t((3,)), t((3,)))),
    "setitem_view": (_setitem_view, lambda: (t((3, 2)), t((2,)))),
    "setitem_index": (_setitem_index, lambda: (t((3, 2)), t((2,)))),
    "masked_fill_inplace": (_masked_fill_inplace, lambda: (t((3,)),)),
    "cumsum": (lambda a: a.cumsum(1) ** 2, lambda: (t((2, 3)),)),
    "cumprod": (lambda a: a.cumprod(0) * a, lambda: (t((4,), 0.5, 1.5),)),
    "cumprod_zeros": (
        lambda a: a.cumprod(1),
        lambda: (v([[0.5, 0.0, -1.2, 0.8], [0.0, 0.7, 0.0, 1.1]]),),
    ),
    "prod": (lambda a: a.prod(1) * a.sum(1), lambda: (t((2, 3), 0.5, 1.5),)),
    "prod_zero": (lambda a: a.prod(), lambda: (v([0.5, 0.0, -1.2]),)),
    "logsumexp": (lambda a: a.logsumexp(1) * a.sum(1), lambda: (t((2, 3)),)),
    "sort_topk_max_dim": (
        lambda a: a.sort(1).values * a + a.topk(2, 1).values.sum() + a.max(0).values.sum(),
        lambda: (distinct((2, 3)),),
    ),
    "take_along_dim": (
        lambda a: dlx.take_along_dim(a, np.array([[0, 2], [1, 1]]), 1) ** 2,
        lambda: (t((2, 3)),),
    ),
    "median": (lambda a: a.median() * a.sum(), lambda: (distinct((5,)),)),
    "diag": (lambda a, b: dlx.diag(a) * a + dlx.diag(b, 1).sum(), lambda: (t((3, 3)), t((2,)))),
    "flip_roll": (lambda a: a.flip(0) * a.roll(1, 1) * a, lambda: (t((2, 3)),)),
    "tril_triu": (lambda a: a.tril() * a.triu(1) + a.tril(-1) * a, lambda: (t((3, 3)),)),
    "einsum": (
        lambda a, b: dlx.einsum("ij,jk->ik", a, b) * dlx.einsum("ii->", a[:, :2][:2]),
        lambda: (t((3, 2)), t((2, 3))),
    ),
    "einsum_broadcast_ellipsis": (
        lambda a, b: dlx.einsum("...i,i->...", a, b) ** 2,
        lambda: (t((2, 1, 3)), t((3,))),
    ),
    "norms": (
        lambda a: a.norm() * a + dlx.linalg.vector_norm(a, 3, dim=1).sum() * a.norm(p=1),
        lambda: (t((2, 3), 0.2, 1.0),),
    ),
}
