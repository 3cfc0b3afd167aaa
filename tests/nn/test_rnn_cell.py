"""Single-step cells RNNCell / LSTMCell / GRUCell: sequence equivalence, gradients, PyTorch."""

from __future__ import annotations

import json

import numpy as np
import pytest
from dlx_testing import assert_close

import dlx
from dlx import nn

# Kernels with per-level code: CI runs this file again at every ISA level (.ci/run).
pytestmark = pytest.mark.isa_levels

CELLS = [
    (nn.RNNCell, nn.RNN, {}),
    (nn.RNNCell, nn.RNN, {"nonlinearity": "relu"}),
    (nn.LSTMCell, nn.LSTM, {}),
    (nn.GRUCell, nn.GRU, {}),
]


def _cell_like(seq_module, cell_cls, kw):
    """A cell carrying the layer-0 weights of a one-layer sequence module."""
    cell = cell_cls(seq_module.input_size, seq_module.hidden_size, bias=seq_module.bias,
                    dtype=seq_module.weight_ih_l0.dtype, **kw)  # fmt: skip
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        src = getattr(seq_module, f"{name}_l0")
        if src is not None:
            getattr(cell, name).data[...] = src.data
    return cell


@pytest.mark.parametrize(("cell_cls", "seq_cls", "kw"), CELLS)
@pytest.mark.parametrize("bias", [True, False])
def test_cell_unrolled_equals_the_sequence_layer(rng, cell_cls, seq_cls, kw, bias):
    dlx.manual_seed(0)
    seq = seq_cls(3, 5, bias=bias, dtype=np.float64, **kw)
    cell = _cell_like(seq, cell_cls, kw)
    x = rng.standard_normal((6, 4, 3))
    h0 = rng.standard_normal((4, 5))
    c0 = rng.standard_normal((4, 5))
    xs = dlx.tensor(x, requires_grad=True)
    xc = dlx.tensor(x, requires_grad=True)
    if cell_cls is nn.LSTMCell:
        y, (h_n, c_n) = seq(xs, (dlx.tensor(h0[None]), dlx.tensor(c0[None])))
        h, c = dlx.tensor(h0), dlx.tensor(c0)
        outs = []
        for t in range(6):
            h, c = cell(xc[t], (h, c))
            outs.append(h)
        assert_close(c.data, c_n.data[0], atol=1e-12)
    else:
        y, h_n = seq(xs, dlx.tensor(h0[None]))
        h = dlx.tensor(h0)
        outs = []
        for t in range(6):
            h = cell(xc[t], h)
            outs.append(h)
    out = dlx.stack(outs)
    assert_close(out.data, y.data, atol=1e-12)
    assert_close(h.data, h_n.data[0], atol=1e-12)
    # gradients through the unrolled cell equal the layer's BPTT
    w = rng.standard_normal(y.shape)
    (y * dlx.tensor(w)).sum().backward()
    (out * dlx.tensor(w)).sum().backward()
    assert_close(xc.grad, xs.grad, atol=1e-11)
    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        p = getattr(cell, name)
        if p is not None:
            assert_close(p.grad, getattr(seq, f"{name}_l0").grad, atol=1e-10)


@pytest.mark.parametrize(("cell_cls", "seq_cls", "kw"), CELLS)
def test_cell_gradcheck(rng, cell_cls, seq_cls, kw):
    dlx.manual_seed(2)
    cell = cell_cls(3, 4, dtype=np.float64, **kw)
    x = dlx.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    h = dlx.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    params = list(cell.parameters())
    if cell_cls is nn.LSTMCell:
        c = dlx.tensor(rng.standard_normal((2, 4)), requires_grad=True)

        def fn(x, h, c, *ps):
            return cell(x, (h, c))

        assert dlx.gradcheck(fn, (x, h, c, *params), atol=1e-7, rtol=1e-5)
    else:

        def fn(x, h, *ps):
            return cell(x, h)

        assert dlx.gradcheck(fn, (x, h, *params), atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize(("cell_cls", "seq_cls", "kw"), CELLS)
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_state", [True, False])
def test_cell_matches_torch(rng, cell_cls, seq_cls, kw, batched, with_state):
    torch = pytest.importorskip("torch")
    dlx.manual_seed(1)
    cell = cell_cls(5, 7, **kw)
    tcell = getattr(torch.nn, cell_cls.__name__)(5, 7, **kw)
    for name, p in cell.named_parameters():
        getattr(tcell, name).data = torch.from_numpy(p.numpy().copy())
    shape = (3,) if batched else ()
    x = rng.standard_normal((*shape, 5)).astype(np.float32)
    h0 = rng.standard_normal((*shape, 7)).astype(np.float32)
    c0 = rng.standard_normal((*shape, 7)).astype(np.float32)
    xt, txt = dlx.tensor(x, requires_grad=True), torch.from_numpy(x).requires_grad_()
    if cell_cls is nn.LSTMCell:
        h, c = cell(xt, (dlx.tensor(h0), dlx.tensor(c0)) if with_state else None)
        th, tc = tcell(txt, (torch.from_numpy(h0), torch.from_numpy(c0)) if with_state else None)
        assert_close(c.data, tc.detach().numpy(), rtol=1e-4, atol=1e-5)
        loss, tloss = (h * h).sum() + c.sum(), (th * th).sum() + tc.sum()
    else:
        h = cell(xt, dlx.tensor(h0) if with_state else None)
        th = tcell(txt, torch.from_numpy(h0) if with_state else None)
        loss, tloss = (h * h).sum(), (th * th).sum()
    assert h.shape == tuple(th.shape)
    assert_close(h.data, th.detach().numpy(), rtol=1e-4, atol=1e-5)
    loss.backward()
    tloss.backward()
    assert_close(xt.grad, txt.grad.numpy(), rtol=1e-4, atol=1e-5)
    for name, p in cell.named_parameters():
        assert_close(p.grad, getattr(tcell, name).grad.numpy(), rtol=1e-4, atol=1e-5)


def test_cell_parameters_config_and_save(tmp_path):
    cell = nn.LSTMCell(3, 5)
    assert [n for n, _ in cell.named_parameters()] == [
        "weight_ih", "weight_hh", "bias_ih", "bias_hh",
    ]  # fmt: skip
    assert cell.weight_ih.shape == (20, 3)
    assert cell.weight_hh.shape == (20, 5)
    assert all(np.abs(p.data).max() <= 1 / np.sqrt(5) for p in cell.parameters())
    assert repr(cell) == "LSTMCell(3, 5)"
    r = nn.RNNCell(2, 3, bias=False, nonlinearity="relu")
    assert repr(r) == "RNNCell(2, 3, bias=False, nonlinearity='relu')"
    assert r.bias_ih is None
    assert len(list(r.parameters())) == 2
    assert len(list(nn.GRUCell(2, 3).parameters())) == 4
    cfg = r.get_config()
    assert json.loads(json.dumps(cfg)) == cfg
    assert nn.RNNCell(**cfg).get_config() == cfg
    # a model holding a cell saves and loads through dlx's layer registry
    model = nn.ModuleList([nn.GRUCell(4, 6), nn.Linear(6, 2)])
    path = tmp_path / "cell.safetensors"
    dlx.save(model, path)
    back = dlx.load(path)
    x = dlx.randn(3, 4)
    h = model[0](x)
    np.testing.assert_array_equal(back[0](x).data, h.data)
    np.testing.assert_array_equal(back[1](h).data, model[1](h).data)


def test_cell_errors_name_the_problem(rng):
    cell = nn.LSTMCell(4, 3)
    x = dlx.tensor(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match=r"LSTMCell: `input` has 5 features but input_size=4 "
                       r"\(input shape \(2, 5\)\)"):  # fmt: skip
        cell(dlx.tensor(np.zeros((2, 5), np.float32)))
    with pytest.raises(ValueError, match=r"LSTMCell: `input` must be 2-D \(batch, input_size\) "
                       r"or 1-D \(input_size,\), got shape \(1, 2, 4\)"):  # fmt: skip
        cell(dlx.tensor(np.zeros((1, 2, 4), np.float32)))
    with pytest.raises(ValueError, match=r"LSTMCell: `hx` must have shape \(2, 3\) for input "
                       r"shape \(2, 4\), got \(3, 3\)"):  # fmt: skip
        cell(x, (dlx.zeros(3, 3), dlx.zeros(2, 3)))
    with pytest.raises(ValueError, match=r"`cx` must have shape \(3,\) for input shape \(4,\)"):
        cell(dlx.zeros(4), (dlx.zeros(3), dlx.zeros(2, 3)))
    with pytest.raises(TypeError, match=r"LSTMCell: `hx` must be a tuple \(h, c\), got Tensor"):
        cell(x, dlx.zeros(2, 3))
    with pytest.raises(TypeError, match=r"LSTMCell: `hx` must be float32 or float64, got int64"):
        cell(x, (dlx.tensor(np.zeros((2, 3), np.int64)), dlx.zeros(2, 3)))
    with pytest.raises(ValueError, match=r"RNNCell: `nonlinearity` must be 'tanh' or 'relu', "
                       r"got 'sigmoid'"):  # fmt: skip
        nn.RNNCell(2, 3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match=r"GRUCell: `hidden_size` must be positive, got 0"):
        nn.GRUCell(2, 0)
    with pytest.raises(TypeError, match=r"`dtype` must be float32 or float64, got int32"):
        nn.GRUCell(2, 3, dtype=np.int32)
