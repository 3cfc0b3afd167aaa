"""Helpers for the Tensor-surface tests: run the same code on dlx and on PyTorch (the oracle)
and compare values and gradients, and a float64 gradcheck of a function of arrays."""

from __future__ import annotations

import numpy as np
import pytest

import dlx


def _flat(out):
    """The tensors of an op's result (a tensor, a tuple or a named tuple), in order."""
    if isinstance(out, tuple | list):
        items = []
        for o in out:
            items.extend(_flat(o))
        return items
    return [out]


def _value(x):
    if hasattr(x, "detach"):
        return x.detach().numpy()
    return np.asarray(x)


def torch_lib():
    return pytest.importorskip("torch")


def compare_with_torch(fn, arrays, *, grad=True, rtol=1e-10, atol=1e-12, seed=0):
    """``fn(lib, *tensors)`` on dlx and on torch: equal values, dtypes and input gradients.

    Floating inputs require grad when ``grad``; the loss sums every floating output times
    fixed random weights.
    """
    torch = torch_lib()
    xs, ts = [], []
    for a in arrays:
        a = np.asarray(a)
        rg = grad and a.dtype.kind == "f"
        xs.append(dlx.tensor(a, requires_grad=rg))
        ts.append(torch.tensor(a, requires_grad=rg))
    outs, touts = _flat(fn(dlx, *xs)), _flat(fn(torch, *ts))
    assert len(outs) == len(touts)
    rng = np.random.default_rng(seed)
    loss, tloss = None, None
    for o, u in zip(outs, touts, strict=True):
        ov, uv = _value(o), _value(u)
        assert ov.shape == uv.shape, (ov.shape, uv.shape)
        assert ov.dtype == uv.dtype, (ov.dtype, uv.dtype)
        np.testing.assert_allclose(ov, uv, rtol=rtol, atol=atol)
        if grad and getattr(u, "requires_grad", False):
            assert o.requires_grad
            w = rng.standard_normal(uv.shape)
            term = (o * dlx.tensor(w, dtype=ov.dtype)).sum()
            tterm = (u * torch.tensor(w, dtype=u.dtype)).sum()
            loss = term if loss is None else loss + term
            tloss = tterm if tloss is None else tloss + tterm
    if loss is None:
        return
    loss.backward()
    tloss.backward()
    for x, t in zip(xs, ts, strict=True):
        if t.grad is None:
            assert x.grad is None or not np.any(x.grad.numpy())
            continue
        assert x.grad is not None
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)


def gradcheck_arrays(fn, arrays, **kw):
    """``dlx.gradcheck`` of ``fn(*tensors)`` at float64 copies of ``arrays``."""
    xs = [dlx.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    assert dlx.gradcheck(fn, xs, **kw)
