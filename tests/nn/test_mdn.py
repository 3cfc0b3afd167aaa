from __future__ import annotations

import json
import math

import numpy as np
import pytest
from dlx_testing import assert_close

import dlx
from dlx import nn
from dlx.nn import functional as F


def _numpy_nll(logits, mu, sigma_raw, y, variance="softplus", eps=1e-6):
    """Direct formula: -log sum_k pi_k prod_d N(y_d | mu_kd, sigma_kd) (no log-sum-exp)."""
    pi = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    sigma = np.exp(sigma_raw) if variance == "exp" else np.log1p(np.exp(sigma_raw)) + eps
    dens = np.exp(-0.5 * ((y[..., None, :] - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    return -np.log((pi * dens.prod(-1)).sum(-1))


def _inputs(rng, shape=(5,), k=3, d=2, dtype=np.float64):
    return (
        rng.standard_normal((*shape, k)).astype(dtype),
        rng.standard_normal((*shape, k, d)).astype(dtype),
        rng.standard_normal((*shape, k, d)).astype(dtype),
        rng.standard_normal((*shape, d)).astype(dtype),
    )


@pytest.mark.parametrize("variance", ["softplus", "exp"])
@pytest.mark.parametrize(("shape", "k", "d"), [((5,), 3, 2), ((1,), 1, 1), ((2, 3), 4, 3)])
def test_gaussian_mixture_nll_matches_numpy(rng, dtype, variance, shape, k, d):
    args = _inputs(rng, shape, k, d, dtype)
    expected = _numpy_nll(*(a.astype(np.float64) for a in args), variance=variance)
    none = F.gaussian_mixture_nll(*args, variance=variance, reduction="none")
    assert none.shape == shape
    assert none.dtype == dtype
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {}
    assert_close(none.data, expected, **tol)
    assert_close(F.gaussian_mixture_nll(*args, variance=variance).data, expected.mean(), **tol)
    s = F.gaussian_mixture_nll(*args, variance=variance, reduction="sum")
    assert_close(s.data, expected.sum(), **tol)


@pytest.mark.parametrize("variance", ["softplus", "exp"])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_gaussian_mixture_nll_gradcheck(rng, variance, reduction):
    lp, mu, sr, y = (dlx.tensor(a, requires_grad=True) for a in _inputs(rng, (4,), 3, 2))

    def fn(lp, mu, sr, y):
        return F.gaussian_mixture_nll(lp, mu, sr, y, variance=variance, reduction=reduction)

    assert dlx.gradcheck(fn, (lp, mu, sr, y), atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("variance", ["softplus", "exp"])
def test_gaussian_mixture_nll_stable_with_extreme_values(variance):
    # huge logits, far targets, tiny and huge scales: finite values and finite gradients
    lp = dlx.tensor(np.array([[1e4, -1e4, 0.0], [-800.0, -800.0, -800.0]]), requires_grad=True)
    mu = dlx.tensor(np.array([[[0.0], [1e3], [-1e3]], [[0.0], [5.0], [1e6]]]), requires_grad=True)
    sr = dlx.tensor(np.array([[[-20.0], [30.0], [0.0]], [[5.0], [-10.0], [40.0]]]),
                    requires_grad=True)  # fmt: skip
    y = dlx.tensor(np.array([[50.0], [-1e5]]))
    loss = F.gaussian_mixture_nll(lp, mu, sr, y, variance=variance, reduction="none")
    assert np.all(np.isfinite(loss.data))
    loss.sum().backward()
    for t in (lp, mu, sr):
        assert np.all(np.isfinite(t.grad))
    # the direct formula underflows to -log(0) = inf where the log-sum-exp does not
    with np.errstate(all="ignore"):
        direct = _numpy_nll(lp.numpy(), mu.numpy(), sr.numpy(), y.numpy(), variance=variance)
    assert not np.all(np.isfinite(direct))


def test_gaussian_mixture_nll_one_component_is_gaussian_nll(rng):
    mu, sr, y = (
        rng.standard_normal((6, 1, 2)),
        rng.standard_normal((6, 1, 2)),
        rng.standard_normal((6, 2)),
    )
    loss = F.gaussian_mixture_nll(np.zeros((6, 1)), mu, sr, y, variance="exp", reduction="none")
    sigma = np.exp(sr[:, 0])
    expected = (
        0.5 * ((y - mu[:, 0]) / sigma) ** 2 + np.log(sigma) + 0.5 * math.log(2 * math.pi)
    ).sum(-1)
    assert_close(loss.data, expected)


def test_gaussian_mixture_nll_module_and_config(rng):
    args = _inputs(rng)
    m = nn.GaussianMixtureNLL(variance="exp", reduction="sum")
    assert_close(m(*args).data, F.gaussian_mixture_nll(*args, variance="exp", reduction="sum").data)
    cfg = m.get_config()
    assert json.loads(json.dumps(cfg)) == cfg
    assert nn.GaussianMixtureNLL(**cfg).get_config() == cfg
    assert repr(m) == "GaussianMixtureNLL(variance='exp', reduction='sum', eps=1e-06)"


def test_gaussian_mixture_nll_errors(rng):
    lp, mu, sr, y = _inputs(rng)
    with pytest.raises(ValueError, match=r"`target` must have shape \(5, 2\) to match `mu`"):
        F.gaussian_mixture_nll(lp, mu, sr, y[:, :1])
    with pytest.raises(ValueError, match=r"`logits_pi` must have shape \(5, 3\)"):
        F.gaussian_mixture_nll(lp[:, :2], mu, sr, y)
    with pytest.raises(ValueError, match=r"`sigma_raw` must have shape \(5, 3, 2\)"):
        F.gaussian_mixture_nll(lp, mu, sr[:, :, :1], y)
    with pytest.raises(ValueError, match="`mu` must have shape"):
        F.gaussian_mixture_nll(lp, mu[0, 0], sr, y)
    with pytest.raises(ValueError, match="`variance` must be 'softplus' or 'exp'"):
        F.gaussian_mixture_nll(lp, mu, sr, y, variance="square")
    with pytest.raises(ValueError, match="`reduction`"):
        nn.GaussianMixtureNLL(reduction="avg")
    with pytest.raises(TypeError, match="`mu` has dtype float64 but `logits_pi` has dtype float32"):
        F.gaussian_mixture_nll(lp.astype(np.float32), mu, sr, y)
