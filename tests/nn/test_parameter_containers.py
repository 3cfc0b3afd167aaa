"""ParameterList / ParameterDict: registration, state-dict keys as in PyTorch, training,
model files, errors."""

from __future__ import annotations

import numpy as np
import pytest

import dlx
from dlx import nn


class Mixture(nn.Module):
    def __init__(self):
        super().__init__()
        self.weights = nn.ParameterList([nn.Parameter(dlx.ones(3, 2)) for _ in range(2)])
        self.biases = nn.ParameterDict({"first": nn.Parameter(dlx.zeros(2))})
        self.biases["second"] = np.full(2, 0.5, np.float32)

    def forward(self, x):
        return (
            x @ self.weights[0]
            + self.biases["first"]
            + (x @ self.weights[-1]) * self.biases["second"]
        )


def test_registration_keys_and_iteration():
    m = Mixture()
    assert list(m.state_dict()) == ["weights.0", "weights.1", "biases.first", "biases.second"]
    assert len(m.weights) == 2
    assert len(m.biases) == 2
    assert [tuple(p.shape) for p in m.weights] == [(3, 2), (3, 2)]
    assert list(m.biases.keys()) == ["first", "second"]
    assert "first" in m.biases
    assert len(list(m.parameters())) == 4
    assert isinstance(m.biases["second"], nn.Parameter)
    assert m.weights[-1] is m.weights[1]
    assert len(m.weights[:1]) == 1


def test_gradients_reach_every_entry_and_an_optimiser_trains_them():
    m = Mixture()
    opt = dlx.optim.SGD(m.parameters(), lr=0.1)
    x = dlx.ones(4, 3)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = (m(x) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[2] < losses[0]
    assert all(p.grad is not None for p in m.parameters())


def test_state_dict_matches_torch_keys():
    torch = pytest.importorskip("torch")
    t = torch.nn.Module()
    t.weights = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(3, 2)) for _ in range(2)])
    t.biases = torch.nn.ParameterDict(
        {
            "first": torch.nn.Parameter(torch.zeros(2)),
            "second": torch.nn.Parameter(torch.full((2,), 0.5)),
        }
    )
    m = Mixture()
    assert list(m.state_dict()) == list(t.state_dict())
    m.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})


def test_model_file_round_trip(tmp_path):
    model = nn.ModuleDict({"w": Mixture().weights, "b": Mixture().biases})
    with dlx.no_grad():
        model["w"][0].mul_(3.0)
    model["b"]["frozen"] = nn.Parameter(np.arange(4.0), requires_grad=False)
    path = tmp_path / "mix.safetensors"
    dlx.save(model, path)
    back = dlx.load(path)
    assert type(back["w"]) is nn.ParameterList
    assert type(back["b"]) is nn.ParameterDict
    assert list(back.state_dict()) == list(model.state_dict())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[k].numpy(), v.numpy())
        assert back.state_dict()[k].dtype == v.dtype
    assert not back["b"]["frozen"].requires_grad


def test_errors_name_the_rule():
    with pytest.raises(TypeError, match="Parameter, Tensor or array"):
        nn.ParameterList(["w"])
    with pytest.raises(TypeError, match="iterable of parameters"):
        nn.ParameterList(dlx.ones(3))
    with pytest.raises(IndexError, match="out of range for length 1"):
        nn.ParameterList([np.ones(2)])[3]
    with pytest.raises(TypeError, match="keys must be str"):
        nn.ParameterDict({1: np.ones(2)})
    with pytest.raises(ValueError, match="parameter spec"):
        nn.ParameterList([{"size": [2]}])
    with pytest.raises(ValueError, match="non-negative"):
        nn.ParameterList([{"shape": [-1]}])
