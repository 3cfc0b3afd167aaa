"""scaled_dot_product_attention, MultiheadAttention, TransformerEncoder(Layer): torch oracle
(outputs and gradients, weights copied), float64 gradcheck, errors, save/load, summary."""

from __future__ import annotations

import numpy as np
import pytest

import dlx
from dlx import nn
from dlx.nn import functional as F

TOL32 = {"rtol": 1e-4, "atol": 1e-5}


def _grads_match(torch, y_d, y_t, leaves_d, leaves_t, tol):
    np.testing.assert_allclose(y_d.numpy(), y_t.detach().numpy(), **tol)
    w = np.random.default_rng(5).standard_normal(y_d.shape).astype(y_d.dtype)
    (y_d * dlx.tensor(w)).sum().backward()
    (y_t * torch.tensor(w)).sum().backward()
    for a, b in zip(leaves_d, leaves_t, strict=True):
        np.testing.assert_allclose(a.grad, b.grad.numpy(), **tol)


# (query shape, key shape, value shape, mask kind, mask shape, is_causal, scale)
SDPA_CASES = [
    ((2, 5, 8), (2, 7, 8), (2, 7, 4), None, None, False, None),
    ((2, 3, 5, 8), (2, 3, 5, 8), (2, 3, 5, 6), None, None, True, None),
    ((2, 3, 4, 8), (1, 3, 6, 8), (2, 1, 6, 8), "bool", (4, 6), False, None),  # broadcast batch
    ((2, 2, 4, 8), (2, 2, 6, 8), (2, 2, 6, 8), "float", (2, 1, 4, 6), False, 0.3),
    ((3, 6, 4), (3, 6, 4), (3, 6, 4), "bool", (3, 6, 6), False, None),
    ((5, 4), (7, 4), (7, 3), "float", (5, 7), False, None),
    ((2, 4, 8), (2, 6, 8), (2, 6, 8), None, None, True, 1.0),  # causal, L < S
]


def _mask(rng, kind, shape):
    if kind is None:
        return None
    if kind == "bool":
        m = rng.random(shape) > 0.3
        m[..., 0] = True  # no fully masked row
        return m
    return rng.standard_normal(shape)


@pytest.mark.parametrize("case", range(len(SDPA_CASES)))
def test_sdpa_matches_torch(rng, dtype, case):
    torch = pytest.importorskip("torch")
    qs, ks, vs, kind, ms, causal, scale = SDPA_CASES[case]
    arrays = [rng.standard_normal(s).astype(dtype) for s in (qs, ks, vs)]
    mask = _mask(rng, kind, ms)
    if kind == "float":
        mask = mask.astype(dtype)
    leaves_d = [dlx.tensor(a, requires_grad=True) for a in arrays]
    leaves_t = [torch.tensor(a, requires_grad=True) for a in arrays]
    y_d = F.scaled_dot_product_attention(
        *leaves_d,
        attn_mask=None if mask is None else dlx.tensor(mask),
        is_causal=causal,
        scale=scale,
    )
    y_t = torch.nn.functional.scaled_dot_product_attention(
        *leaves_t,
        attn_mask=None if mask is None else torch.tensor(mask),
        is_causal=causal,
        scale=scale,
    )
    tol = TOL32 if dtype == np.float32 else {"rtol": 1e-9, "atol": 1e-12}
    _grads_match(torch, y_d, y_t, leaves_d, leaves_t, tol)


def test_sdpa_matches_numpy_formula(rng):
    q, k, v = (rng.standard_normal((2, 4, 3)) for _ in range(3))
    s = q @ k.transpose(0, 2, 1) / np.sqrt(3)
    s = np.where(np.tril(np.ones((4, 4), bool)), s, -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    y = F.scaled_dot_product_attention(dlx.tensor(q), dlx.tensor(k), dlx.tensor(v), is_causal=True)
    np.testing.assert_allclose(y.numpy(), p @ v, rtol=1e-12)


def test_sdpa_gradcheck(rng):
    q = dlx.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    k = dlx.tensor(rng.standard_normal((2, 5, 4)), requires_grad=True)
    v = dlx.tensor(rng.standard_normal((2, 5, 2)), requires_grad=True)
    fm = dlx.tensor(rng.standard_normal((3, 5)), requires_grad=True)
    bm = dlx.tensor(rng.random((2, 1, 5)) > 0.4)
    bm.numpy()[..., 0] = True
    assert dlx.autograd.gradcheck(
        lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m), (q, k, v, fm)
    )
    assert dlx.autograd.gradcheck(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=bm, scale=0.7),
        (q, k, v),
    )
    assert dlx.autograd.gradgradcheck(
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v), (q, k, v)
    )


def test_sdpa_dropout_scales_kept_weights():
    q = dlx.zeros((1, 4, 2))
    v = dlx.tensor(np.eye(4)[None])  # uniform attention: output row = kept weights
    dlx.manual_seed(0)
    y = F.scaled_dot_product_attention(q, q, v, dropout_p=0.5).numpy()
    assert set(np.round(np.unique(y), 6)) <= {0.0, 0.5}  # 1/4 kept and scaled by 2
    assert (y == 0).any()
    assert (y > 0).any()


def test_sdpa_errors():
    q = dlx.zeros((2, 3, 4))
    with pytest.raises(ValueError, match="`query` must have at least 2 dimensions"):
        F.scaled_dot_product_attention(dlx.zeros(4), q, q)
    with pytest.raises(ValueError, match="same last dimension"):
        F.scaled_dot_product_attention(q, dlx.zeros((2, 3, 5)), q)
    with pytest.raises(ValueError, match="same sequence length"):
        F.scaled_dot_product_attention(q, q, dlx.zeros((2, 4, 4)))
    with pytest.raises(ValueError, match=r"batch dimensions .* must broadcast"):
        F.scaled_dot_product_attention(q, dlx.zeros((3, 3, 4)), dlx.zeros((3, 3, 4)))
    with pytest.raises(ValueError, match="`attn_mask` must be None when `is_causal`"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=dlx.zeros((3, 3)), is_causal=True)
    with pytest.raises(ValueError, match=r"`attn_mask` must broadcast to the scores"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=dlx.zeros((4, 3)))
    with pytest.raises(TypeError, match="`attn_mask` must be bool or float"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=dlx.zeros((3, 3), dtype=dlx.int64))
    with pytest.raises(ValueError, match=r"`dropout_p` must be in \[0, 1\]"):
        F.scaled_dot_product_attention(q, q, q, dropout_p=1.5)
    with pytest.raises(TypeError, match="`key` must be a float tensor"):
        F.scaled_dot_product_attention(q, dlx.zeros((2, 3, 4), dtype=dlx.int64), q)


def _copy(torch, dmod, tmod):
    dmod.load_state_dict({k: v.detach().numpy() for k, v in tmod.state_dict().items()})
    assert list(dmod.state_dict()) == list(tmod.state_dict())


MHA_CASES = [
    {"batch_first": False},
    {"batch_first": True, "bias": False},
    {"batch_first": True, "kdim": 5, "vdim": 3},
    {"batch_first": False, "kdim": 8, "vdim": 6},
]


@pytest.mark.parametrize("cfg", MHA_CASES, ids=str)
@pytest.mark.parametrize("masks", ["none", "bool", "float", "per_head"])
@pytest.mark.parametrize("average", [True, False])
def test_multihead_attention_matches_torch(rng, cfg, masks, average):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    e, h, n, length, src = 8, 2, 3, 4, 5
    t = torch.nn.MultiheadAttention(e, h, **cfg)
    d = nn.MultiheadAttention(e, h, **cfg)
    _copy(torch, d, t)
    kd, vd = cfg.get("kdim", e), cfg.get("vdim", e)
    bf = cfg["batch_first"]
    shapes = [(n, length, e), (n, src, kd), (n, src, vd)]
    if not bf:
        shapes = [(s[1], s[0], s[2]) for s in shapes]
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    kw_d, kw_t = {}, {}
    if masks == "bool":
        pad = np.zeros((n, src), bool)
        pad[0, -2:] = True
        am = np.triu(np.ones((length, src), bool), 2)
        kw_d = {"key_padding_mask": dlx.tensor(pad), "attn_mask": dlx.tensor(am)}
        kw_t = {"key_padding_mask": torch.tensor(pad), "attn_mask": torch.tensor(am)}
    elif masks == "float":
        pad = rng.standard_normal((n, src)).astype(np.float32)
        am = rng.standard_normal((length, src)).astype(np.float32)
        kw_d = {"key_padding_mask": dlx.tensor(pad), "attn_mask": dlx.tensor(am)}
        kw_t = {"key_padding_mask": torch.tensor(pad), "attn_mask": torch.tensor(am)}
    elif masks == "per_head":
        am = rng.standard_normal((n * h, length, src)).astype(np.float32)
        kw_d, kw_t = {"attn_mask": dlx.tensor(am)}, {"attn_mask": torch.tensor(am)}
    leaves_d = [dlx.tensor(a, requires_grad=True) for a in arrays]
    leaves_t = [torch.tensor(a, requires_grad=True) for a in arrays]
    y_d, w_d = d(*leaves_d, average_attn_weights=average, **kw_d)
    y_t, w_t = t(*leaves_t, average_attn_weights=average, **kw_t)
    np.testing.assert_allclose(w_d.numpy(), w_t.detach().numpy(), **TOL32)
    y_fast, none = d(*leaves_d, need_weights=False, **kw_d)  # the fused kernel
    assert none is None
    np.testing.assert_allclose(y_fast.numpy(), y_t.detach().numpy(), rtol=1e-4, atol=1e-5)
    params_t = dict(t.named_parameters())
    names = [k for k, _ in d.named_parameters()]
    _grads_match(
        torch,
        y_d,
        y_t,
        leaves_d + [dict(d.named_parameters())[k] for k in names],
        leaves_t + [params_t[k] for k in names],
        {"rtol": 1e-4, "atol": 1e-4},
    )


def test_multihead_attention_unbatched_and_no_weights(rng):
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    t = torch.nn.MultiheadAttention(6, 3)
    d = nn.MultiheadAttention(6, 3)
    _copy(torch, d, t)
    x = rng.standard_normal((4, 6)).astype(np.float32)
    pad = np.array([False, False, True, False])
    y_d, w_d = d(dlx.tensor(x), dlx.tensor(x), dlx.tensor(x), key_padding_mask=dlx.tensor(pad))
    y_t, w_t = t(*(torch.tensor(x),) * 3, key_padding_mask=torch.tensor(pad))
    np.testing.assert_allclose(y_d.numpy(), y_t.detach().numpy(), **TOL32)
    np.testing.assert_allclose(w_d.numpy(), w_t.detach().numpy(), **TOL32)
    y, w = d(dlx.tensor(x), dlx.tensor(x), dlx.tensor(x), need_weights=False)
    assert w is None
    assert y.shape == (4, 6)


def test_multihead_attention_init_and_gradcheck(rng):
    m = nn.MultiheadAttention(4, 2, dtype=np.float64)
    assert m.in_proj_weight.shape == (12, 4)
    np.testing.assert_array_equal(m.in_proj_bias.numpy(), 0)
    np.testing.assert_array_equal(m.out_proj.bias.numpy(), 0)
    bound = np.sqrt(6 / (12 + 4))  # xavier-uniform on the packed (3E, E) weight
    assert np.abs(m.in_proj_weight.numpy()).max() <= bound
    x = dlx.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    mask = dlx.tensor(np.triu(np.ones((3, 3), bool), 1))
    assert dlx.autograd.gradcheck(lambda x: m(x, x, x, attn_mask=mask)[0], (x,))
    params = list(m.parameters())
    assert dlx.autograd.gradcheck(lambda *ps: m(x, x, x)[0], tuple(params))


def test_multihead_attention_errors():
    with pytest.raises(ValueError, match="`embed_dim` must be divisible by `num_heads`"):
        nn.MultiheadAttention(6, 4)
    with pytest.raises(ValueError, match=r"`dropout` must be in \[0, 1\]"):
        nn.MultiheadAttention(4, 2, dropout=2.0)
    m = nn.MultiheadAttention(4, 2)
    x = dlx.zeros((3, 2, 4))
    with pytest.raises(ValueError, match="expected `key` of 3-D shape with last dimension 4"):
        m(x, dlx.zeros((3, 2, 5)), x)
    with pytest.raises(ValueError, match="`key` and `value` must share"):
        m(x, dlx.zeros((5, 2, 4)), x)
    with pytest.raises(ValueError, match=r"`attn_mask` must have shape \(3, 3\) or \(4, 3, 3\)"):
        m(x, x, x, attn_mask=dlx.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"`key_padding_mask` must have shape \(2, 3\)"):
        m(x, x, x, key_padding_mask=dlx.zeros((3, 2)))
    with pytest.raises(ValueError, match="`is_causal`=True is a hint that needs `attn_mask`"):
        m(x, x, x, is_causal=True)


LAYER_CASES = [
    {},
    {"norm_first": True, "activation": "gelu", "batch_first": True},
    {"activation": "gelu", "bias": False, "layer_norm_eps": 1e-6},
]


@pytest.mark.parametrize("cfg", LAYER_CASES, ids=str)
@pytest.mark.parametrize("with_masks", [False, True])
def test_transformer_encoder_matches_torch(rng, cfg, with_masks):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    args = (8, 2)
    kw = {"dim_feedforward": 16, "dropout": 0.0, **cfg}
    t_layer = torch.nn.TransformerEncoderLayer(*args, **kw)
    t = torch.nn.TransformerEncoder(
        t_layer, 2, norm=torch.nn.LayerNorm(8), enable_nested_tensor=False
    )
    d = nn.TransformerEncoder(nn.TransformerEncoderLayer(*args, **kw), 2, norm=nn.LayerNorm(8))
    _copy(torch, d, t)
    t.train()  # no fast path; dropout is 0
    n, length = 3, 5
    shape = (n, length, 8) if cfg.get("batch_first") else (length, n, 8)
    x = rng.standard_normal(shape).astype(np.float32)
    kw_d, kw_t = {}, {}
    if with_masks:
        pad = np.zeros((n, length), bool)
        pad[1, -2:] = True
        causal = np.triu(np.ones((length, length), bool), 1)
        kw_d = {"mask": dlx.tensor(causal), "src_key_padding_mask": dlx.tensor(pad)}
        kw_t = {"mask": torch.tensor(causal), "src_key_padding_mask": torch.tensor(pad)}
    xd, xt = dlx.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y_d, y_t = d(xd, **kw_d), t(xt, **kw_t)
    names = [k for k, _ in d.named_parameters()]
    assert names == [k for k, _ in t.named_parameters()]
    pd, pt = dict(d.named_parameters()), dict(t.named_parameters())
    _grads_match(
        torch,
        y_d,
        y_t,
        [xd] + [pd[k] for k in names],
        [xt] + [pt[k] for k in names],
        {"rtol": 2e-4, "atol": 1e-4},
    )


def test_transformer_encoder_layer_gradcheck_and_copies(rng):
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0, dtype=np.float64)
    x = dlx.tensor(rng.standard_normal((3, 2, 4)), requires_grad=True)
    assert dlx.autograd.gradcheck(lambda x: layer(x), (x,))
    enc = nn.TransformerEncoder(layer, 3)
    assert len(enc.layers) == 3
    assert enc.layers[0] is not layer
    assert enc.layers[0].linear1.weight is not enc.layers[1].linear1.weight
    np.testing.assert_array_equal(
        enc.layers[2].linear1.weight.numpy(), layer.linear1.weight.numpy()
    )
    custom = nn.TransformerEncoderLayer(4, 2, 6, 0.0, activation=lambda v: v.tanh())
    assert custom(dlx.zeros((3, 2, 4))).shape == (3, 2, 4)


def test_transformer_errors():
    with pytest.raises(ValueError, match="`activation` must be 'relu', 'gelu' or a callable"):
        nn.TransformerEncoderLayer(4, 2, activation="swish")
    with pytest.raises(ValueError, match="`dim_feedforward` must be positive"):
        nn.TransformerEncoderLayer(4, 2, dim_feedforward=0)
    with pytest.raises(ValueError, match="`num_layers` must be positive"):
        nn.TransformerEncoder(nn.TransformerEncoderLayer(4, 2), 0)
    with pytest.raises(TypeError, match="`encoder_layer` must be a Module"):
        nn.TransformerEncoder("layer", 2)
    with pytest.raises(ValueError, match="callable `activation` cannot be saved"):
        nn.TransformerEncoderLayer(4, 2, activation=lambda v: v).get_config()


def test_attention_layers_save_load_and_summary(tmp_path):
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.1, batch_first=True, norm_first=True)
    model = nn.Sequential(nn.TransformerEncoder(layer, 2, norm=nn.LayerNorm(8)), nn.Flatten())
    path = tmp_path / "t.safetensors"
    dlx.save(model, path)
    loaded = dlx.load(path)
    assert repr(loaded) == repr(model)
    assert list(loaded.state_dict()) == list(model.state_dict())
    model.eval()
    loaded.eval()
    x = dlx.tensor(np.random.default_rng(0).standard_normal((2, 5, 8)).astype(np.float32))
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    text = model.summary((5, 8))
    assert "(TransformerEncoder)" in text
    assert "(None, 40)" in text
    per_layer = 3 * 8 * 8 + 3 * 8 + 8 * 8 + 8 + 8 * 16 + 16 + 16 * 8 + 8 + 4 * 8
    assert f"Total params: {2 * per_layer + 16:,}" in text

    mha = nn.MultiheadAttention(6, 2, kdim=4, vdim=3, bias=False)
    dlx.save(mha, tmp_path / "m.safetensors")
    back = dlx.load(tmp_path / "m.safetensors")
    for k, v in mha.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[k], v.numpy())


@pytest.mark.parametrize(
    ("qs", "ks", "vs", "kind", "ms", "causal"),
    [
        ((2, 3, 5, 4), (2, 3, 7, 4), (2, 3, 7, 6), None, None, False),
        ((3, 6, 4), (3, 6, 4), (3, 6, 2), None, None, True),
        ((2, 2, 4, 3), (1, 2, 5, 3), (2, 1, 5, 3), "bool", (2, 1, 4, 5), False),
        ((2, 4, 3), (2, 5, 3), (2, 5, 3), "float", (4, 5), False),
        ((4, 3), (6, 3), (6, 2), "bool", (6,), False),
    ],
)
def test_fused_kernel_matches_composite(rng, qs, ks, vs, kind, ms, causal):
    from dlx.nn.functional import _attention

    arrays = [rng.standard_normal(s) for s in (qs, ks, vs)]
    mask = _mask(rng, kind, ms)
    m = None if mask is None else dlx.tensor(mask)
    causal_mask = dlx.tensor(np.tril(np.ones((qs[-2], ks[-2]), bool))) if causal else None
    grads = []
    for fused in (True, False):
        leaves = [dlx.tensor(a, requires_grad=True) for a in arrays]
        if fused:
            y = _attention._fused(*leaves, m, causal, 0.5)
        else:
            y = _attention._composite(*leaves, m if not causal else causal_mask, 0.5, 0.0)
        (y * dlx.tensor(np.cos(np.arange(y.numel()).reshape(y.shape)))).sum().backward()
        grads.append((y.numpy(), *(t.grad for t in leaves)))
    for a, b in zip(*grads, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_fused_kernel_float32_and_binding_checks(rng):
    from dlx import _core

    q = rng.standard_normal((3, 4, 8)).astype(np.float32)
    k = rng.standard_normal((3, 6, 8)).astype(np.float32)
    v = rng.standard_normal((3, 6, 5)).astype(np.float32)
    out, probs = _core.attention_forward(q, k, v, None, False, 0.25)
    s = q @ k.transpose(0, 2, 1) * 0.25
    p = np.exp(s - s.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    np.testing.assert_allclose(probs, p, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out, p @ v, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="attention_forward: `key` must have shape"):
        _core.attention_forward(q, np.ascontiguousarray(k[:, :, :4]), v)
    with pytest.raises(ValueError, match="`mask` must have 1 or 3 batch entries"):
        _core.attention_forward(q, k, v, np.zeros((2, 4, 6), np.float32))
    with pytest.raises(TypeError, match="`key` must have dtype float32"):
        _core.attention_forward(q, k.astype(np.float64), v)
    with pytest.raises(ValueError, match="`probs` must have shape"):
        _core.attention_backward(out, q, k, v, np.ascontiguousarray(probs[:, :2]))
    # a fully masked row is NaN, like the formula
    mask = np.zeros((1, 4, 6), np.float32)
    mask[0, 1] = -np.inf
    out, _ = _core.attention_forward(q, k, v, mask, False, 1.0)
    assert np.isnan(out[:, 1]).all()
    assert np.isfinite(out[:, [0, 2, 3]]).all()
