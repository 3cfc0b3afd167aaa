from __future__ import annotations

import math

import numpy as np
import pytest

import dlx
from dlx import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.scale = nn.Parameter(np.ones(4, np.float32))
        self.register_buffer("running", dlx.zeros(4))
        self.register_buffer("scratch", dlx.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc(x) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(Block(), nn.Identity(), nn.Linear(4, 2, bias=False))
        self.head = nn.Linear(2, 1)

    def forward(self, x):
        return self.head(self.features(x))


# -- registration ---------------------------------------------------------------------------
def test_named_parameters_use_dotted_pytorch_names():
    names = [n for n, _ in Net().named_parameters()]
    assert names == [
        "features.0.scale",
        "features.0.fc.weight",
        "features.0.fc.bias",
        "features.2.weight",
        "head.weight",
        "head.bias",
    ]


def test_state_dict_keys_and_order_include_persistent_buffers():
    sd = Net().state_dict()
    assert list(sd) == [
        "features.0.scale",
        "features.0.running",
        "features.0.fc.weight",
        "features.0.fc.bias",
        "features.2.weight",
        "head.weight",
        "head.bias",
    ]
    assert all(isinstance(v, dlx.Tensor) and not v.requires_grad for v in sd.values())


def test_buffers_and_children():
    net = Net()
    assert [n for n, _ in net.named_buffers()] == ["features.0.running", "features.0.scratch"]
    assert len(list(net.buffers())) == 2
    assert [n for n, _ in net.named_children()] == ["features", "head"]
    assert [type(m).__name__ for m in net.children()] == ["Sequential", "Linear"]
    assert len(list(net.modules())) == 7
    assert net.get_submodule("features.0.fc") is net.features[0].fc


def test_shared_parameters_appear_once():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, lin)
    assert len(list(seq.parameters())) == 2
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]


def test_setattr_rules():
    m = nn.Module()
    m.w = nn.Parameter(np.zeros(2, np.float32))
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'w'"):
        m.w = dlx.zeros(2)
    m.w = None
    assert m.w is None
    assert "w" in m._parameters
    m.register_buffer("b", dlx.zeros(1))
    with pytest.raises(TypeError, match="buffer 'b'"):
        m.b = 3
    m.b = dlx.ones(1)
    assert m.b.item() == 1
    m.child = nn.Identity()
    m.child = nn.Linear(1, 1)  # replacing a module keeps it registered
    assert list(m._modules) == ["child"]
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("child", None)
    with pytest.raises(KeyError, match=r"without '\.'"):
        m.register_parameter("a.b", None)
    with pytest.raises(TypeError, match="Parameter or None"):
        m.register_parameter("z", dlx.zeros(1))
    del m.child
    assert "child" not in m._modules
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        _ = m.nope


def test_assign_before_init_raises():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.zeros(1, np.float32))

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\)"):
        Bad()


def test_missing_forward_raises():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


# -- modes and gradients -------------------------------------------------------------------------
def test_train_eval_propagate():
    net = Net()
    assert net.training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(TypeError, match="`mode` must be a bool"):
        net.train("yes")


def test_zero_grad_set_to_none_and_in_place():
    net = Net()
    net(dlx.ones(5, 3)).sum().backward()
    grads = {n: p.grad for n, p in net.named_parameters()}
    assert all(g is not None for g in grads.values())
    net.zero_grad(set_to_none=False)
    for n, p in net.named_parameters():
        assert p.grad is grads[n]  # same arrays, zeroed in place
        assert not p.grad.numpy().any()
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_requires_grad_and_apply():
    net = Net()
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen[-1] == "Net"
    assert seen[0] == "Linear"


def test_double_converts_parameters_and_buffers_for_gradcheck():
    lin = nn.Linear(3, 2).double()
    assert lin.weight.dtype == np.float64
    assert lin.bias.dtype == np.float64
    x = dlx.tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    assert dlx.gradcheck(lambda x, w, b: lin(x), (x, lin.weight, lin.bias))
    assert Net().to(dlx.float64).features[0].running.dtype == np.float64


def test_forward_hooks():
    lin = nn.Linear(2, 3)
    shapes = []
    h = lin.register_forward_hook(lambda m, args, out: shapes.append(out.shape))
    pre = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    out = lin(dlx.ones(4, 2))
    assert shapes == [(4, 3)]
    np.testing.assert_allclose(out.data, np.broadcast_to(lin.bias.data, (4, 3)))
    h.remove()
    pre.remove()
    lin(dlx.ones(1, 2))
    assert shapes == [(4, 3)]


# -- state dict ------------------------------------------------------------------------------------
def test_state_dict_round_trip_copies_in_place():
    src, dst = Net(), Net()
    arrays = {n: t.numpy() for n, t in dst.state_dict(keep_vars=True).items()}
    result = dst.load_state_dict({k: v.numpy().copy() for k, v in src.state_dict().items()})
    assert result.missing_keys == []
    assert result.unexpected_keys == []
    for name, t in dst.state_dict(keep_vars=True).items():
        assert t.numpy() is arrays[name]  # never rebinds .data
        np.testing.assert_array_equal(t.data, src.state_dict()[name])
    x = dlx.randn(2, 3)
    np.testing.assert_array_equal(src(x).data, dst(x).data)


def test_state_dict_shares_memory_like_pytorch():
    lin = nn.Linear(2, 2)
    assert lin.state_dict()["weight"].numpy() is lin.weight.numpy()
    assert lin.state_dict(keep_vars=True)["weight"] is lin.weight


def test_load_state_dict_errors_name_keys_and_change_nothing():
    net = Net()
    before = {k: v.numpy().copy() for k, v in net.state_dict().items()}
    bad = {k: np.zeros_like(v) for k, v in before.items()}
    del bad["head.bias"]
    bad["extra.weight"] = np.zeros(1)
    bad["features.2.weight"] = np.zeros((3, 3))
    with pytest.raises(nn.StateDictError) as info:
        net.load_state_dict(bad)
    msg = str(info.value)
    assert "missing key(s) in state_dict: 'head.bias'" in msg
    assert "unexpected key(s) in state_dict: 'extra.weight'" in msg
    assert "size mismatch for features.2.weight" in msg
    assert "(3, 3)" in msg
    assert "(2, 4)" in msg
    assert isinstance(info.value, RuntimeError)  # as torch.nn.Module.load_state_dict
    assert not isinstance(info.value, ValueError)
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])  # nothing copied


def test_load_state_dict_non_strict():
    net = Net()
    sd = {k: np.zeros_like(v) for k, v in net.state_dict().items() if k.startswith("head")}
    sd["other"] = np.zeros(1)
    res = net.load_state_dict(sd, strict=False)
    assert "features.2.weight" in res.missing_keys
    assert res.unexpected_keys == ["other"]
    assert not net.head.weight.numpy().any()
    with pytest.raises(nn.StateDictError, match=r"size mismatch for head\.bias"):
        net.load_state_dict({"head.bias": np.zeros(3)}, strict=False)
    with pytest.raises(TypeError, match="mapping"):
        net.load_state_dict([1, 2])


def test_load_state_dict_casts_and_bumps_version():
    lin = nn.Linear(2, 1)
    v = lin.weight._version
    lin.load_state_dict({"weight": np.array([[1.0, 2.0]]), "bias": dlx.tensor([0.5])})
    assert lin.weight.dtype == np.float32
    assert lin.weight._version == v + 1
    np.testing.assert_array_equal(lin.weight.data, [[1.0, 2.0]])


# -- repr -----------------------------------------------------------------------------------------
def test_repr_like_pytorch():
    net = nn.Sequential(nn.Linear(2, 8), nn.Flatten(), nn.Sequential(nn.Identity()))
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=8, bias=True)\n"
        "  (1): Flatten(start_dim=1, end_dim=-1)\n"
        "  (2): Sequential(\n"
        "    (0): Identity()\n"
        "  )\n"
        ")"
    )
    assert repr(nn.Linear(3, 1, bias=False)) == "Linear(in_features=3, out_features=1, bias=False)"


# -- containers ------------------------------------------------------------------------------------
def test_sequential_indexing_len_iter_append():
    a, b, c = nn.Linear(2, 3), nn.Identity(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b)
    assert len(seq) == 2
    assert seq[0] is a
    assert seq[-1] is b
    assert list(seq) == [a, b]
    seq.append(c)
    assert seq[2] is c
    assert list(seq.state_dict())[-1] == "2.bias"
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential)
    assert list(sub._modules) == ["1", "2"]
    seq[1] = nn.Flatten()
    assert isinstance(seq[1], nn.Flatten)
    del seq[0]
    assert list(seq._modules) == ["0", "1"]
    assert seq[1] is c
    with pytest.raises(IndexError, match="out of range"):
        seq[5]
    assert seq(dlx.ones(4, 3)).shape == (4, 1)


def test_sequential_from_ordered_dict():
    seq = nn.Sequential({"fc": nn.Linear(2, 2), "act": nn.Identity()})
    assert list(seq.state_dict()) == ["fc.weight", "fc.bias"]


def test_module_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3
    layers.append(nn.Identity())
    layers.insert(0, nn.Flatten())
    assert isinstance(layers[0], nn.Flatten)
    assert isinstance(layers[-1], nn.Identity)
    assert [n for n, _ in layers.named_parameters()][:2] == ["1.weight", "1.bias"]
    del layers[0]
    assert list(layers._modules) == ["0", "1", "2", "3"]
    assert isinstance(layers[1:], nn.ModuleList)
    layers += [nn.Identity()]
    assert len(layers) == 5
    with pytest.raises(NotImplementedError):
        layers(1)


def test_identity_and_flatten():
    x = dlx.randn(2, 3, 4, 5)
    assert nn.Identity(1, k=2)(x) is x
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 2)(x).shape == (24, 5)


# -- Linear --------------------------------------------------------------------------------------
def test_linear_forward_backward_and_leading_dims(rng, dtype):
    lin = nn.Linear(4, 3, dtype=dtype)
    a = rng.standard_normal((2, 5, 4)).astype(dtype)
    x = dlx.tensor(a, requires_grad=True)
    y = lin(x)
    assert y.shape == (2, 5, 3)
    assert y.dtype == dtype
    w, b = lin.weight.data, lin.bias.data
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y.data, a @ w.T + b, rtol=tol, atol=tol)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, np.ones((2, 5, 3)) @ w, rtol=tol, atol=tol)
    np.testing.assert_allclose(lin.bias.grad, np.full(3, 10.0), rtol=tol)
    assert lin(dlx.tensor(a[0, 0])).shape == (3,)


def test_linear_gradcheck(rng):
    x = dlx.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w = dlx.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    b = dlx.tensor(rng.standard_normal(2), requires_grad=True)
    assert dlx.gradcheck(nn.functional.linear, (x, w, b))
    assert dlx.gradcheck(nn.functional.linear, (x, w))


def test_linear_default_init_bounds():
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    assert np.abs(lin.weight.data).max() <= bound
    assert np.abs(lin.bias.data).max() <= bound
    np.testing.assert_allclose(lin.weight.data.std(), bound / math.sqrt(3), rtol=0.02)
    assert lin.weight.data.dtype == np.float32


def test_linear_errors():
    lin = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"`input` of shape \(4, 5\) must end in in_features=3"):
        lin(dlx.ones(4, 5))
    with pytest.raises(TypeError, match="`weight` has dtype float32 but `input` has dtype float64"):
        lin(dlx.tensor(np.ones((1, 3))))
    with pytest.raises(ValueError, match="`in_features`"):
        nn.Linear(-1, 2)
    with pytest.raises(TypeError, match="`dtype`"):
        nn.Linear(1, 2, dtype=np.int64)
    with pytest.raises(ValueError, match="`bias` must have shape"):
        nn.functional.linear(dlx.ones(2, 3), dlx.ones(2, 3), dlx.ones(3))


def test_linear_empty_batch():
    out = nn.Linear(3, 2)(dlx.zeros(0, 3))
    assert out.shape == (0, 2)


# -- the examples ----------------------------------------------------------------------
def test_xor_hand_set_weights_exact():
    hidden, out = nn.Linear(2, 2), nn.Linear(2, 1, bias=False)
    hidden.load_state_dict(
        {"weight": np.array([[1.0, 1.0], [1.0, 1.0]]), "bias": np.array([0.0, -1.0])}
    )
    out.load_state_dict({"weight": np.array([[1.0, -2.0]])})
    x = dlx.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = out(hidden(x).relu())
    np.testing.assert_array_equal(y.numpy().ravel(), [0.0, 1.0, 1.0, 0.0])


def test_xor_learns_from_random_init():
    dlx.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Linear(8, 1))
    x = dlx.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = dlx.tensor([[0.0], [1.0], [1.0], [0.0]])
    assert sum(p.numel() for p in model.parameters()) == 33
    for _ in range(500):
        pred = model[1](model[0](x).tanh()).sigmoid()
        loss = ((pred - y) ** 2).mean()
        model.zero_grad()
        loss.backward()
        with dlx.no_grad():
            for p in model.parameters():
                p -= 2.0 * p.grad
    np.testing.assert_array_equal((pred.numpy() > 0.5).ravel(), [False, True, True, False])


def test_mlp_matches_torch_through_state_dict(rng):
    torch = pytest.importorskip("torch")
    model = nn.Sequential(nn.Linear(5, 8), nn.Flatten(), nn.Linear(8, 3))
    tmodel = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Flatten(), torch.nn.Linear(8, 3))
    tmodel.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in model.state_dict().items()})
    a = rng.standard_normal((6, 5)).astype(np.float32)

    def run_dlx():
        h = model[0](dlx.tensor(a)).relu()
        return model[2](model[1](h))

    out = run_dlx()
    tout = tmodel[2](tmodel[1](torch.relu(tmodel[0](torch.tensor(a)))))
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-4, atol=1e-6)
    (out**2).sum().backward()
    (tout**2).sum().backward()
    tgrads = dict(tmodel.named_parameters())
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, tgrads[name].grad.numpy(), rtol=1e-4, atol=1e-5)
    # and back: a torch state dict loads into dlx
    model2 = nn.Sequential(nn.Linear(5, 8), nn.Flatten(), nn.Linear(8, 3))
    model2.load_state_dict(tmodel.state_dict())
    np.testing.assert_array_equal(model2[0].weight.data, model[0].weight.data)
