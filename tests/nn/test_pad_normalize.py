"""F.pad, F.normalize, nn.Unflatten and nn.ModuleDict: torch oracle, gradcheck, errors,
state-dict naming and save/load."""

from __future__ import annotations

import numpy as np
import pytest

import dlx
import dlx.nn.functional as F
from dlx import nn

R = np.random.default_rng(5)

PAD_CASES = [
    ((2, 3, 5), (1, 2), "constant"),
    ((2, 3, 5), (-1, 2), "constant"),
    ((2, 3, 4, 5), (2, -1, -1, 3), "constant"),
    ((2, 3, 4, 5), (1, 1, 0, 2, 1, 0), "constant"),
    ((2, 3, 5), (2, 3), "reflect"),
    ((2, 3, 4, 5), (1, 2, 3, 0), "reflect"),
    ((3, 5), (4, 1), "reflect"),
    ((2, 3, 5), (3, 4), "replicate"),
    ((1, 2, 3, 4), (2, 1, 1, 3), "replicate"),
    ((2, 3, 5), (5, 2), "circular"),
    ((1, 2, 3, 4), (1, 4, 3, 2), "circular"),
    ((1, 2, 3, 3, 4), (1, 1, 2, 0, 1, 1), "replicate"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("shape", "pads", "mode"), PAD_CASES)
def test_pad_matches_torch(dtype, shape, pads, mode):
    torch = pytest.importorskip("torch")
    x = R.standard_normal(shape).astype(dtype)
    kwargs = {"value": 1.5} if mode == "constant" else {}
    xt = dlx.tensor(x, requires_grad=True)
    y = F.pad(xt, pads, mode=mode, **kwargs)
    g = R.standard_normal(tuple(y.shape)).astype(dtype)
    (y * dlx.tensor(g)).sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.pad(tx, pads, mode=mode, **kwargs)
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_array_equal(y.numpy(), ty.detach().numpy())
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad_gradcheck(mode):
    x = dlx.tensor(R.standard_normal((1, 2, 3, 4)), requires_grad=True)
    assert dlx.gradcheck(lambda a: F.pad(a, (2, 1, 1, 2), mode=mode) ** 2, (x,))


def test_pad_errors():
    x = dlx.tensor(np.zeros((2, 3, 4), np.float32))
    with pytest.raises(ValueError, match="even length"):
        F.pad(x, (1,))
    with pytest.raises(ValueError, match="`mode` must be one of"):
        F.pad(x, (1, 1), mode="wrap")
    with pytest.raises(ValueError, match="smaller than the axis length"):
        F.pad(x, (4, 0), mode="reflect")
    with pytest.raises(ValueError, match="at most the axis length"):
        F.pad(x, (0, 5), mode="circular")
    with pytest.raises(ValueError, match="needs a 4-D or 5-D input"):
        F.pad(x, (1, 1, 1, 1, 1, 1), mode="replicate")
    with pytest.raises(ValueError, match="crops more than"):
        F.pad(x, (-3, -2))
    with pytest.raises(ValueError, match="pads 4 axes but the input has only 3"):
        F.pad(x, (0,) * 8)
    with pytest.raises(TypeError, match="`pad` must be a sequence"):
        F.pad(x, 2)


@pytest.mark.parametrize(("p", "dim"), [(2.0, 1), (1.0, -1), (3.0, 0)])
def test_normalize_matches_torch(p, dim):
    torch = pytest.importorskip("torch")
    x = R.standard_normal((3, 4, 5))
    x[0, :, 0] = 0.0  # a zero vector: eps keeps it finite
    xt = dlx.tensor(x, requires_grad=True)
    y = F.normalize(xt, p=p, dim=dim)
    g = R.standard_normal(x.shape)
    (y * dlx.tensor(g)).sum().backward()
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.nn.functional.normalize(tx, p=p, dim=dim)
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(xt.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-9)


def test_normalize_gradcheck_and_errors():
    x = dlx.tensor(R.standard_normal((3, 4)), requires_grad=True)
    assert dlx.gradcheck(lambda a: F.normalize(a, dim=1), (x,))
    with pytest.raises(ValueError, match="`eps` must be"):
        F.normalize(x, eps=-1.0)
    with pytest.raises(TypeError, match="`input` must be float32 or float64"):
        F.normalize(np.zeros((2, 2), np.int64))


def test_unflatten_like_torch():
    torch = pytest.importorskip("torch")
    x = R.standard_normal((2, 12, 3)).astype(np.float32)
    for dim, size in ((1, (3, 4)), (1, (2, -1, 3)), (-1, [3, 1])):
        ours = nn.Unflatten(dim, size)(dlx.tensor(x))
        theirs = torch.nn.Unflatten(dim, size)(torch.tensor(x))
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        assert nn.Unflatten(dim, size).output_shape(x.shape) == tuple(theirs.shape)
    with pytest.raises(ValueError, match="must multiply to the size of axis 1"):
        nn.Unflatten(1, (5, 2))(dlx.tensor(x))
    with pytest.raises(ValueError, match="at most one -1"):
        nn.Unflatten(1, (-1, -1))
    with pytest.raises(TypeError, match="must be a tuple or list"):
        nn.Unflatten(1, 4)


def test_module_dict_state_dict_like_torch(tmp_path):
    torch = pytest.importorskip("torch")
    ours = nn.ModuleDict({"enc": nn.Linear(3, 4), "norm": nn.LayerNorm(4)})
    ours["head"] = nn.Linear(4, 2)
    theirs = torch.nn.ModuleDict({"enc": torch.nn.Linear(3, 4), "norm": torch.nn.LayerNorm(4)})
    theirs["head"] = torch.nn.Linear(4, 2)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours) == ["enc", "norm", "head"]
    assert "norm" in ours
    assert len(ours) == 3
    assert [k for k, _ in ours.items()] == list(ours.keys())
    ours.load_state_dict(theirs.state_dict())
    model = nn.Sequential(nn.Unflatten(1, (1, 3)), nn.Flatten())
    holder = nn.ModuleDict([("body", model), ("parts", ours)])
    path = tmp_path / "md.dlx"
    dlx.save(holder, path)
    loaded = dlx.load(path)
    assert list(loaded.state_dict()) == list(holder.state_dict())
    for k, v in holder.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[k].numpy(), v.numpy())
    popped = ours.pop("head")
    assert isinstance(popped, nn.Linear)
    assert list(ours) == ["enc", "norm"]
    with pytest.raises(TypeError, match="keys must be str"):
        nn.ModuleDict([(1, nn.Linear(1, 1))])
