from __future__ import annotations

import numpy as np
import pytest
from dlx_testing import assert_close, check_grad

import dlx
from dlx import _core, reference

SHAPES = [
    (5, 3),
    (7, 130),
    (1, 4, 5),
    (4, 3, 7),
    (2, 4, 3, 5),
    (3, 2, 2, 2, 3),
    (2, 5, 1, 1),
    (6, 2, 17, 9),
]


def _inputs(rng, shape, dtype, affine=True):
    c = shape[1]
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(dtype)
    w = rng.standard_normal(c).astype(dtype) if affine else None
    b = rng.standard_normal(c).astype(dtype) if affine else None
    rm = rng.standard_normal(c).astype(dtype)
    rv = (rng.random(c) + 0.5).astype(dtype)
    return x, w, b, rm, rv


def _tol(dtype):
    # float32 sums over up to ~2000 values per channel.
    return {"atol": 1e-4, "rtol": 1e-4} if dtype == np.float32 else {}


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_matches_reference(rng, dtype, shape, training, affine):
    x, w, b, rm, rv = _inputs(rng, shape, dtype, affine)
    rm_ref, rv_ref = rm.copy(), rv.copy()
    y, sm, si = _core.batch_norm_forward(x, w, b, rm, rv, training, 0.3, 1e-4)
    ry, rsm, rsi = reference.batch_norm_forward(x, w, b, rm_ref, rv_ref, training, 0.3, 1e-4)
    assert y.shape == shape
    assert y.dtype == sm.dtype == si.dtype == dtype
    assert_close(y, ry, **_tol(dtype))
    assert_close(sm, rsm, **_tol(dtype))
    assert_close(si, rsi, **_tol(dtype))
    assert_close(rm, rm_ref, **_tol(dtype))
    assert_close(rv, rv_ref, **_tol(dtype))
    gy = rng.standard_normal(shape).astype(dtype)
    gx, gw, gb = _core.batch_norm_backward(gy, x, w, sm, si, training)
    rgx, rgw, rgb = reference.batch_norm_backward(gy, x, w, sm, si, training)
    assert_close(gx, rgx, **_tol(dtype))
    assert_close(gb, rgb, **_tol(dtype))
    if affine:
        assert_close(gw, rgw, **_tol(dtype))
    else:
        assert gw is None


@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 4, 3)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck_float64(rng, shape, training):
    x, w, b, rm, rv = _inputs(rng, shape, np.float64)
    gy = rng.standard_normal(shape)
    # Training without running stats: each call of f() must not change any state.
    run = (None, None) if training else (rm, rv)

    def f():
        return float((_core.batch_norm_forward(x, w, b, *run, training)[0] * gy).sum())

    _, sm, si = _core.batch_norm_forward(x, w, b, *run, training)
    gx, gw, gb = _core.batch_norm_backward(gy, x, w, sm, si, training)
    check_grad(f, x, gx)
    check_grad(f, w, gw)
    check_grad(f, b, gb)


def test_batch_norm_gradcheck_without_affine(rng):
    x = rng.standard_normal((4, 3, 2, 2))
    gy = rng.standard_normal(x.shape)

    def f():
        return float((_core.batch_norm_forward(x, None, None, None, None, True)[0] * gy).sum())

    _, sm, si = _core.batch_norm_forward(x, None, None, None, None, True)
    gx, gw, _ = _core.batch_norm_backward(gy, x, None, sm, si, True)
    assert gw is None
    check_grad(f, x, gx)


def test_batch_norm_running_stats_update_in_place(rng, dtype):
    x = rng.standard_normal((8, 3, 4, 4)).astype(dtype)
    rm = np.zeros(3, dtype)
    rv = np.ones(3, dtype)
    rm_id, rv_id = id(rm), id(rv)
    _, sm, _ = _core.batch_norm_forward(x, None, None, rm, rv, True, momentum=0.25)
    assert id(rm) == rm_id
    assert id(rv) == rv_id
    x64 = x.astype(np.float64)
    batch_mean = x64.mean(axis=(0, 2, 3))
    unbiased = x64.var(axis=(0, 2, 3), ddof=1)
    assert_close(rm, 0.25 * batch_mean, **_tol(dtype))
    assert_close(rv, 0.75 + 0.25 * unbiased, **_tol(dtype))
    assert_close(sm, batch_mean, **_tol(dtype))
    # Eval mode reads the running statistics and leaves them alone.
    before = rm.copy(), rv.copy()
    _, sm, si = _core.batch_norm_forward(x, None, None, rm, rv, False)
    np.testing.assert_array_equal(rm, before[0])
    np.testing.assert_array_equal(sm, rm)
    assert_close(si, 1 / np.sqrt(rv.astype(np.float64) + 1e-5), **_tol(dtype))


def test_batch_norm_in_place_refuses_conversion():
    x = np.ones((4, 3), np.float32)
    ok = np.zeros(3, np.float32)
    with pytest.raises(TypeError, match=r"`running_mean` must have dtype float32.*got float64"):
        _core.batch_norm_forward(x, None, None, np.zeros(3), ok, True)
    with pytest.raises(ValueError, match=r"`running_var` must be C-contiguous"):
        _core.batch_norm_forward(x, None, None, ok, np.ones(6, np.float32)[::2], True)
    ro = np.zeros(3, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"`running_mean` must be writeable"):
        _core.batch_norm_forward(x, None, None, ro, ok.copy(), True)
    # Eval mode only reads them: a read-only array is fine there.
    _core.batch_norm_forward(x, None, None, ro, np.ones(3, np.float32), False)


@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1, 1), (1, 2, 1)])
def test_batch_norm_one_value_per_channel_in_training(shape):
    x = np.ones(shape)
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training"):
        _core.batch_norm_forward(x, None, None, None, None, True)
    y, _, _ = _core.batch_norm_forward(x, None, None, np.zeros(shape[1]), np.ones(shape[1]), False)
    assert y.shape == shape


def test_batch_norm_empty_batch(dtype):
    x = np.zeros((0, 3, 4, 4), dtype)
    rm, rv = np.full(3, 0.5, dtype), np.full(3, 2.0, dtype)
    for training in (True, False):
        y, sm, si = _core.batch_norm_forward(x, None, None, rm, rv, training)
        assert y.shape == x.shape
        assert sm.shape == si.shape == (3,)
        gx, gw, gb = _core.batch_norm_backward(x, x, np.ones(3, dtype), sm, si, training)
        assert gx.shape == x.shape
        np.testing.assert_array_equal(gw, 0)
        np.testing.assert_array_equal(gb, 0)
    np.testing.assert_array_equal(rm, 0.5)  # untouched, as in PyTorch
    np.testing.assert_array_equal(rv, 2.0)


def test_batch_norm_same_result_for_any_thread_count(rng):
    x = rng.standard_normal((16, 8, 20, 20)).astype(np.float32)
    gy = rng.standard_normal(x.shape).astype(np.float32)
    before = dlx.get_num_threads()
    out = []
    try:
        for n in (1, 2):
            dlx.set_num_threads(n)
            y, sm, si = _core.batch_norm_forward(x, None, None, None, None, True)
            out.append((y, sm, si, *_core.batch_norm_backward(gy, x, None, sm, si, True)[::2]))
    finally:
        dlx.set_num_threads(before)
    for a, b in zip(*out, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shape", [(8, 5), (4, 3, 6, 5)])
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_matches_torch(rng, shape, training):
    torch = pytest.importorskip("torch")
    x, w, b, rm, rv = _inputs(rng, shape, np.float64)
    trm, trv = torch.from_numpy(rm.copy()), torch.from_numpy(rv.copy())
    tx = torch.from_numpy(x).requires_grad_()
    tw = torch.from_numpy(w).requires_grad_()
    tb = torch.from_numpy(b).requires_grad_()
    ty = torch.nn.functional.batch_norm(tx, trm, trv, tw, tb, training, 0.1, 1e-5)
    gy = rng.standard_normal(shape)
    ty.backward(torch.from_numpy(gy))
    y, sm, si = _core.batch_norm_forward(x, w, b, rm, rv, training)
    assert_close(y, ty.detach().numpy())
    assert_close(rm, trm.numpy())
    assert_close(rv, trv.numpy())
    gx, gw, gb = _core.batch_norm_backward(gy, x, w, sm, si, training)
    assert_close(gx, tx.grad.numpy())
    assert_close(gw, tw.grad.numpy(), rtol=1e-9)
    assert_close(gb, tb.grad.numpy(), rtol=1e-9)


def test_batch_norm_errors():
    x = np.ones((4, 3, 2))
    c3 = np.ones(3)
    fn = _core.batch_norm_forward
    with pytest.raises(ValueError, match=r"batch_norm_forward: `input` must be at least 2-D"):
        fn(np.ones(4), None, None, None, None, True)
    with pytest.raises(TypeError, match=r"`input` must be float32 or float64, got int64"):
        fn(np.ones((4, 3), np.int64), None, None, None, None, True)
    with pytest.raises(ValueError, match=r"`weight` must have shape \(3,\), got \(4,\)"):
        fn(x, np.ones(4), None, None, None, True)
    with pytest.raises(TypeError, match=r"`bias` must have dtype float64"):
        fn(x, None, np.ones(3, np.float32), None, None, True)
    with pytest.raises(ValueError, match=r"`running_mean` and `running_var` must both be"):
        fn(x, None, None, c3.copy(), None, True)
    with pytest.raises(ValueError, match=r"must be given when `training` is False"):
        fn(x, None, None, None, None, False)
    with pytest.raises(ValueError, match=r"`running_var` must have shape \(3,\), got \(2,\)"):
        fn(x, None, None, c3.copy(), np.ones(2), True)
    with pytest.raises(ValueError, match=r"`eps` must be finite and >= 0, got -1"):
        fn(x, None, None, None, None, True, 0.1, -1.0)
    with pytest.raises(ValueError, match=r"`momentum` must be finite, got nan"):
        fn(x, None, None, None, None, True, float("nan"))
    bw = _core.batch_norm_backward
    with pytest.raises(ValueError, match=r"batch_norm_backward: `grad_output` must have shape"):
        bw(np.ones((4, 3)), x, None, c3, c3, True)
    with pytest.raises(ValueError, match=r"`save_invstd` must have shape \(3,\)"):
        bw(x, x, None, c3, np.ones(2), True)
    with pytest.raises(TypeError, match=r"`save_mean` must be a numpy.ndarray, got NoneType"):
        bw(x, x, None, None, c3, True)
