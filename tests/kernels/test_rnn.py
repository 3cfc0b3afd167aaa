from __future__ import annotations

import json

import numpy as np
import pytest
from dlx_testing import assert_close, own_float32_gemm

import dlx
from dlx import _core, nn, reference
from dlx.nn import functional as F

# Kernels with per-level code: CI runs this file again at every ISA level (.ci/run).
pytestmark = pytest.mark.isa_levels

MODES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}
# (T, N, I, H): one step, batch 1, odd sizes, N = 0
KERNEL_SHAPES = [(1, 1, 1, 1), (5, 3, 4, 6), (7, 2, 9, 5), (3, 0, 4, 3), (4, 33, 3, 17)]


def _kernel_args(rng, mode, t, n, i, h, dtype, bias=True, state=True):
    g = MODES[mode]
    x = rng.standard_normal((t, n, i)).astype(dtype)
    w_ih = (rng.standard_normal((g * h, i)) * 0.5).astype(dtype)
    w_hh = (rng.standard_normal((g * h, h)) * 0.5).astype(dtype)
    b_ih = rng.standard_normal(g * h).astype(dtype) if bias else None
    b_hh = rng.standard_normal(g * h).astype(dtype) if bias else None
    h0 = rng.standard_normal((n, h)).astype(dtype) if state else None
    c0 = rng.standard_normal((n, h)).astype(dtype) if (state and mode == "lstm") else None
    return x, w_ih, w_hh, b_ih, b_hh, h0, c0


# -- kernels vs the NumPy reference ------------------------------------------------------
@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("shape", KERNEL_SHAPES)
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize(("bias", "state"), [(True, True), (False, False)])
def test_rnn_kernel_matches_reference(rng, dtype, mode, shape, reverse, bias, state):
    args = _kernel_args(rng, mode, *shape, dtype, bias=bias, state=state)
    got = _core.rnn_forward(mode, *args, reverse=reverse)
    exp = reference.rnn_forward(mode, *args, reverse=reverse)
    atol = 1e-5 if dtype == np.float32 else 1e-12
    for a, b in zip(got, exp, strict=True):
        if b is None:
            assert a is None
        else:
            assert a.dtype == dtype
            assert_close(a, b, atol=atol)
    t, n, _, h = shape
    gy = rng.standard_normal((t, n, h)).astype(dtype)
    gh = rng.standard_normal((n, h)).astype(dtype)
    gc = rng.standard_normal((n, h)).astype(dtype) if mode == "lstm" else None
    x, w_ih, w_hh, _, _, h0, c0 = args
    bk = (gy, gh, gc, x, w_ih, w_hh, h0, c0, got[0], got[3], bias, reverse)
    grads = _core.rnn_backward(mode, *bk)
    refs = reference.rnn_backward(mode, *bk)
    for a, b in zip(grads, refs, strict=True):
        if b is None:
            assert a is None
        else:
            assert_close(a, b, atol=1e-4 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("mode", list(MODES))
def test_rnn_backward_matches_finite_differences(rng, mode):
    x, w_ih, w_hh, b_ih, b_hh, h0, c0 = _kernel_args(rng, mode, 3, 2, 3, 4, np.float64)
    gy = rng.standard_normal((3, 2, 4))
    gc = rng.standard_normal((2, 4)) if mode == "lstm" else None

    def loss():
        y, _, c_n, _ = _core.rnn_forward(mode, x, w_ih, w_hh, b_ih, b_hh, h0, c0)
        return float((gy * y).sum() + (0.0 if gc is None else (gc * c_n).sum()))

    y, _, _, ws = _core.rnn_forward(mode, x, w_ih, w_hh, b_ih, b_hh, h0, c0)
    grads = _core.rnn_backward(mode, gy, None, gc, x, w_ih, w_hh, h0, c0, y, ws)
    from dlx_testing import check_grad

    for arr, g in [(x, grads[0]), (h0, grads[1]), (w_ih, grads[3]), (w_hh, grads[4]),
                   (b_ih, grads[5]), (b_hh, grads[6])]:  # fmt: skip
        check_grad(loss, arr, g, rtol=1e-6, atol=1e-8)
    if mode == "lstm":
        check_grad(loss, c0, grads[2], rtol=1e-6, atol=1e-8)


# -- modules: autograd gradchecks ----------------------------------------------------------
def _module(cls, **kw):
    dlx.manual_seed(0)
    return cls(3, 4, dtype=np.float64, **kw)


CASES = [
    (nn.RNN, {}),
    (nn.RNN, {"nonlinearity": "relu"}),
    (nn.LSTM, {}),
    (nn.GRU, {}),
]


@pytest.mark.parametrize(("cls", "kw"), CASES)
@pytest.mark.parametrize(
    "layout",
    [{}, {"num_layers": 2}, {"bidirectional": True}, {"batch_first": True, "bias": False}],
)
def test_rnn_module_gradcheck(rng, cls, kw, layout):
    m = _module(cls, **kw, **layout)
    d = (2 if layout.get("bidirectional") else 1) * m.num_layers
    x = dlx.tensor(rng.standard_normal((2, 3, 3)), requires_grad=True)
    h0 = dlx.tensor(rng.standard_normal((d, 2 if layout.get("batch_first") else 3, 4)),
                    requires_grad=True)  # fmt: skip
    params = list(m.parameters())

    if cls is nn.LSTM:
        c0 = dlx.tensor(rng.standard_normal(h0.shape), requires_grad=True)

        def fn(x, h0, c0, *ps):
            y, (h, c) = m(x, (h0, c0))
            return y, h, c

        inputs = (x, h0, c0, *params)
    else:

        def fn(x, h0, *ps):
            y, h = m(x, h0)
            return y, h

        inputs = (x, h0, *params)
    assert dlx.gradcheck(fn, inputs, atol=1e-7, rtol=1e-5)


# -- modules: PyTorch oracle ------------------------------------------------------------------
def _copy_to_torch(torch, m, tm):
    for name, p in m.named_parameters():
        getattr(tm, name).data = torch.from_numpy(p.numpy().copy())


@pytest.mark.parametrize(("cls", "kw"), CASES)
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_state", [False, True])
def test_rnn_matches_torch(rng, cls, kw, batch_first, with_state):
    torch = pytest.importorskip("torch")
    dlx.manual_seed(1)
    m = cls(5, 7, num_layers=2, bidirectional=True, batch_first=batch_first, **kw)
    tm = getattr(torch.nn, cls.__name__)(
        5, 7, num_layers=2, bidirectional=True, batch_first=batch_first, **kw
    )
    _copy_to_torch(torch, m, tm)
    x = rng.standard_normal((4, 3, 5)).astype(np.float32)
    n = 4 if batch_first else 3
    h0 = rng.standard_normal((4, n, 7)).astype(np.float32)
    c0 = rng.standard_normal((4, n, 7)).astype(np.float32)
    xt, txt = dlx.tensor(x, requires_grad=True), torch.from_numpy(x).requires_grad_()
    if cls is nn.LSTM:
        hx = (dlx.tensor(h0), dlx.tensor(c0)) if with_state else None
        thx = (torch.from_numpy(h0), torch.from_numpy(c0)) if with_state else None
        y, (h, c) = m(xt, hx)
        ty, (th, tc) = tm(txt, thx)
        loss = (y * y).sum() + h.sum() + (c * c).sum()
        tloss = (ty * ty).sum() + th.sum() + (tc * tc).sum()
        assert_close(c.data, tc.detach().numpy(), rtol=1e-4, atol=1e-5)
    else:
        y, h = m(xt, dlx.tensor(h0) if with_state else None)
        ty, th = tm(txt, torch.from_numpy(h0) if with_state else None)
        loss, tloss = (y * y).sum() + h.sum(), (ty * ty).sum() + th.sum()
    assert y.shape == tuple(ty.shape)
    assert h.shape == tuple(th.shape)
    assert_close(y.data, ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    assert_close(h.data, th.detach().numpy(), rtol=1e-4, atol=1e-5)
    loss.backward()
    tloss.backward()
    assert_close(xt.grad, txt.grad.numpy(), rtol=1e-4, atol=1e-5)
    for name, p in m.named_parameters():
        assert_close(p.grad, getattr(tm, name).grad.numpy(), rtol=1e-4, atol=1e-5)


def test_rnn_unbatched_matches_batched(rng):
    m = _module(nn.LSTM, num_layers=2)
    x = rng.standard_normal((5, 3))
    y, (h, c) = m(dlx.tensor(x))
    yb, (hb, cb) = m(dlx.tensor(x[:, None, :]))
    assert y.shape == (5, 4)
    assert h.shape == (2, 4)
    assert c.shape == (2, 4)
    assert_close(y.data, yb.data[:, 0])
    assert_close(h.data, hb.data[:, 0])
    assert_close(c.data, cb.data[:, 0])


def test_rnn_empty_batch(dtype):
    m = nn.GRU(3, 4, num_layers=2, bidirectional=True, dtype=dtype)
    x = dlx.tensor(np.zeros((5, 0, 3), dtype), requires_grad=True)
    y, h = m(x)
    assert y.shape == (5, 0, 8)
    assert h.shape == (4, 0, 4)
    y.sum().backward()
    assert x.grad.shape == (5, 0, 3)
    assert np.all(m.weight_hh_l0.grad == 0)


# -- dropout, clipping, configuration -------------------------------------------------------
def test_rnn_dropout_only_in_training(rng):
    dlx.manual_seed(0)
    m = nn.LSTM(3, 8, num_layers=2, dropout=0.5, dtype=np.float64)
    x = dlx.tensor(rng.standard_normal((4, 2, 3)))
    m.eval()
    y1, _ = m(x)
    y2, _ = m(x)
    assert_close(y1.data, y2.data)
    m.train()
    y3, _ = m(x)
    assert not np.allclose(y3.data, y1.data)
    m.dropout = 0.0
    y4, _ = m(x)
    assert_close(y4.data, y1.data)


def test_rnn_dropout_single_layer_warns():
    with pytest.warns(UserWarning, match="num_layers=1"):
        nn.GRU(2, 3, dropout=0.2)


def test_rnn_clip_grad_norm(rng):
    m = _module(nn.LSTM, num_layers=2)
    x = dlx.tensor(rng.standard_normal((6, 2, 3)) * 10)
    y, _ = m(x)
    (y * 100).sum().backward()
    total = nn.utils.clip_grad_norm_(m.parameters(), max_norm=1.0)
    assert float(total) > 1.0
    norm = np.sqrt(sum((p.grad**2).sum() for p in m.parameters()))
    assert norm == pytest.approx(1.0, rel=1e-6)


def test_rnn_parameters_and_config():
    m = nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True)
    names = [n for n, _ in m.named_parameters()]
    assert names[:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert names[4:8] == [
        "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",
        "bias_hh_l0_reverse",
    ]  # fmt: skip
    assert m.weight_ih_l1.shape == (20, 10)
    assert m.weight_hh_l1_reverse.shape == (20, 5)
    bound = 1 / np.sqrt(5)
    assert all(np.abs(p.data).max() <= bound for p in m.parameters())
    cfg = m.get_config()
    assert json.loads(json.dumps(cfg)) == cfg
    m2 = nn.LSTM(**cfg)
    assert [p.shape for p in m2.parameters()] == [p.shape for p in m.parameters()]
    assert repr(m) == "LSTM(3, 5, num_layers=2, batch_first=True, bidirectional=True)"
    r = nn.RNN(2, 3, nonlinearity="relu", bias=False)
    assert r.get_config()["nonlinearity"] == "relu"
    assert "nonlinearity='relu'" in repr(r)
    assert r.bias_ih_l0 is None
    assert len(list(nn.GRU(2, 3).parameters())) == 4


# -- errors --------------------------------------------------------------------------------
def test_rnn_errors_name_the_problem(rng):
    m = nn.LSTM(4, 3)
    with pytest.raises(ValueError, match=r"LSTM: `input` has 5 features but layer 0 expects "
                       r"input_size=4 \(weight_ih_l0 shape \(12, 4\)"):  # fmt: skip
        m(dlx.tensor(np.zeros((2, 1, 5), np.float32)))
    with pytest.raises(ValueError, match=r"LSTM: `input` must be 3-D"):
        m(dlx.tensor(np.zeros((2, 1, 1, 4), np.float32)))
    with pytest.raises(ValueError, match=r"`hx\[0\]` must have shape \(1, 2, 3\)"):
        m(dlx.tensor(np.zeros((2, 2, 4), np.float32)),
          (dlx.tensor(np.zeros((1, 3, 3), np.float32)), dlx.tensor(np.zeros((1, 2, 3), np.float32))))  # fmt: skip
    with pytest.raises(TypeError, match="tuple"):
        m(dlx.tensor(np.zeros((2, 2, 4), np.float32)), dlx.tensor(np.zeros((1, 2, 3), np.float32)))
    with pytest.raises(ValueError, match="at least one time step"):
        m(dlx.tensor(np.zeros((0, 2, 4), np.float32)))
    with pytest.raises(TypeError, match="float32 or float64"):
        m(dlx.tensor(np.zeros((2, 2, 4), np.int64)))
    with pytest.raises(ValueError, match="`hidden_size` must be positive"):
        nn.GRU(3, 0)
    with pytest.raises(ValueError, match="`nonlinearity`"):
        nn.RNN(3, 2, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="`dropout`"):
        nn.RNN(3, 2, dropout=1.5)


def test_rnn_kernel_errors(rng):
    x, w_ih, w_hh, b_ih, b_hh, h0, c0 = _kernel_args(rng, "lstm", 2, 3, 4, 5, np.float64)
    with pytest.raises(ValueError, match="`mode` must be"):
        _core.rnn_forward("lstmx", x, w_ih, w_hh)
    with pytest.raises(ValueError, match="`weight_ih` has 4 input features but `input` has 3"):
        _core.rnn_forward("lstm", x[:, :, :3].copy(), w_ih, w_hh)
    with pytest.raises(
        ValueError,
        match=r"`weight_hh` must have shape \(3 \* hidden, hidden\) for mode .gru., got \(20, 5\)",
    ):
        _core.rnn_forward("gru", x, w_ih, w_hh)
    with pytest.raises(ValueError, match="both be given or both be None"):
        _core.rnn_forward("lstm", x, w_ih, w_hh, b_ih, None)
    with pytest.raises(ValueError, match=r"`hx` must have shape \(3, 5\)"):
        _core.rnn_forward("lstm", x, w_ih, w_hh, hx=h0[:2].copy())
    with pytest.raises(ValueError, match="`cx` is only used by mode 'lstm'"):
        _core.rnn_forward("rnn_tanh", x, w_ih[:5].copy(), w_hh[:5].copy(), cx=c0)
    with pytest.raises(TypeError, match="`weight_hh` must have dtype float64"):
        _core.rnn_forward("lstm", x, w_ih, w_hh.astype(np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.rnn_forward("lstm", x.transpose(1, 0, 2), w_ih, w_hh)
    y, _, _, ws = _core.rnn_forward("lstm", x, w_ih, w_hh, b_ih, b_hh, h0, c0)
    with pytest.raises(ValueError, match="`workspace` must have shape"):
        _core.rnn_backward("lstm", y, None, None, x, w_ih, w_hh, h0, c0, y, ws[:, :, :4].copy())
    with pytest.raises(ValueError, match="`grad_output` must have shape"):
        _core.rnn_backward("lstm", y[:1].copy(), None, None, x, w_ih, w_hh, h0, c0, y, ws)


def test_rnn_functional_exported():
    assert F.rnn is not None


@pytest.mark.parametrize("mode", list(MODES))
def test_rnn_kernel_small_batch_wide_hidden_matches_reference(rng, mode):
    # N below the batch-slicing threshold and N * H above the elementwise OpenMP threshold:
    # exercises the threaded-BLAS + parallel-cell path of forward and backward.
    args = _kernel_args(rng, mode, 2, 15, 3, 1100, np.float64)
    got = _core.rnn_forward(mode, *args)
    exp = reference.rnn_forward(mode, *args)
    assert_close(got[0], exp[0], atol=1e-12)
    x, w_ih, w_hh, _, _, h0, c0 = args
    gy = rng.standard_normal(got[0].shape)
    bk = (gy, None, None, x, w_ih, w_hh, h0, c0, got[0], got[3])
    for a, b in zip(_core.rnn_backward(mode, *bk), reference.rnn_backward(mode, *bk), strict=True):
        if b is not None:
            assert_close(a, b, atol=1e-10)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("shape", [(11, 40, 5, 24), (3, 300, 2, 4), (13, 20, 3, 9)])
@pytest.mark.parametrize("reverse", [False, True])
def test_rnn_backward_chunked_sums_match_reference(rng, mode, shape, reverse):
    # The weight and bias gradients are summed over chunks of about 256 rows: several chunks,
    # a partial last chunk, and one step per chunk when the batch alone exceeds 256 rows.
    args = _kernel_args(rng, mode, *shape, np.float64)
    got = _core.rnn_forward(mode, *args, reverse=reverse)
    t, n, _, h = shape
    gy = rng.standard_normal((t, n, h))
    gh = rng.standard_normal((n, h))
    gc = rng.standard_normal((n, h)) if mode == "lstm" else None
    x, w_ih, w_hh, _, _, h0, c0 = args
    bk = (gy, gh, gc, x, w_ih, w_hh, h0, c0, got[0], got[3], True, reverse)
    refs = reference.rnn_backward(mode, *bk)
    for a, b in zip(_core.rnn_backward(mode, *bk), refs, strict=True):
        if b is not None:
            assert_close(a, b, atol=1e-10)


@pytest.mark.parametrize("mode", list(MODES))
def test_rnn_backward_bits_do_not_depend_on_threads(rng, mode):
    # With 2 threads each thread runs the steps for half of the batch and sums a share of
    # the weight-gradient columns; the chunk order stays fixed, so float32 bits match (on
    # dlx's own GEMM, see own_float32_gemm).
    args = _kernel_args(rng, mode, 9, 64, 8, 48, np.float32)
    x, w_ih, w_hh, _, _, h0, c0 = args
    before = dlx.get_num_threads()
    results = []
    with own_float32_gemm():
        try:
            for threads in (1, 2):
                dlx.set_num_threads(threads)
                y, _, _, ws = _core.rnn_forward(mode, *args)
                gy = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
                bk = (gy, None, None, x, w_ih, w_hh, h0, c0, y, ws)
                grads = _core.rnn_backward(mode, *bk)
                results.append([y, *(g for g in grads if g is not None)])
        finally:
            dlx.set_num_threads(before)
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


def test_rnn_forward_stack_c_matches_separate_outputs(rng):
    args = _kernel_args(rng, "lstm", 6, 4, 3, 5, np.float32)
    y, h_n, c_n, ws = _core.rnn_forward("lstm", *args)
    out, h_n2, none, ws2 = _core.rnn_forward("lstm", *args, stack_c=True)
    assert none is None
    assert out.shape == (7, 4, 5)
    np.testing.assert_array_equal(out[:6], y)
    np.testing.assert_array_equal(out[6], c_n)
    np.testing.assert_array_equal(h_n2, h_n)
    np.testing.assert_array_equal(ws2, ws)
    with pytest.raises(ValueError, match="`stack_c` needs mode 'lstm', got mode 'gru'"):
        _core.rnn_forward(
            "gru", *_kernel_args(rng, "gru", 2, 2, 3, 4, np.float32)[:6], stack_c=True
        )


def test_lstm_output_changed_in_place_is_caught(rng):
    # The layer's output array is saved for backward: changing it in place must raise,
    # not silently alter the gradient.
    m = nn.LSTM(3, 4)
    x = dlx.tensor(rng.standard_normal((5, 2, 3)).astype(np.float32), requires_grad=True)
    z, _ = m(x)
    with dlx.no_grad():
        z.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        z.sum().backward()
