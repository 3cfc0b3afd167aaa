"""dlx.save / dlx.load / dlx.load_state_dict_file: safetensors model files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from dlx_testing import run_python
from train_testing import mlp, weights

import dlx
from dlx import nn
from dlx.io import SafetensorsError, load_file, read_metadata, save_file


def _model():
    dlx.manual_seed(1)
    return nn.Sequential(
        nn.Flatten(), mlp(seed=1), nn.ModuleList([nn.Identity(), nn.Linear(10, 3, bias=False)])
    )


def _write(path, arch, tensors=None, meta=None):
    info = {"format": "dlx-model", "version": 1, "arch": arch} if meta is None else meta
    save_file(tensors or {}, path, metadata={"dlx": json.dumps(info)})


def test_save_load_round_trip_outputs_equal(tmp_path):
    model = _model()
    path = tmp_path / "m.safetensors"
    dlx.save(model, path)
    loaded = dlx.load(path)
    assert repr(loaded) == repr(model)
    assert list(loaded.state_dict()) == list(model.state_dict())
    for k, v in weights(model).items():
        np.testing.assert_array_equal(weights(loaded)[k], v)
    x = np.random.default_rng(0).random((5, 1, 8, 8), dtype=np.float32)
    seq = nn.Sequential(*list(model)[:2])
    seq2 = nn.Sequential(*list(loaded)[:2])
    np.testing.assert_array_equal(seq(dlx.Tensor(x)).numpy(), seq2(dlx.Tensor(x)).numpy())
    meta = json.loads(read_metadata(path)["dlx"])
    assert meta["format"] == "dlx-model"
    assert meta["version"] == 1
    assert meta["arch"]["children"]["2"]["children"]["1"] == {
        "class": "Linear",
        "config": {"in_features": 10, "out_features": 3, "bias": False, "dtype": "float32"},
    }
    assert set(load_file(path)) == set(model.state_dict())  # PyTorch key names


def test_save_load_float64(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2, dtype=np.float64))
    dlx.save(model, tmp_path / "d.safetensors")
    loaded = dlx.load(tmp_path / "d.safetensors")
    assert loaded[0].weight.dtype == np.float64
    np.testing.assert_array_equal(loaded[0].weight.data, model[0].weight.data)


def test_save_rejects_non_dlx_modules(tmp_path):
    class Mine(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(ValueError, match=r"`model.1` is a Mine, which is not a dlx.nn layer"):
        dlx.save(nn.Sequential(nn.Linear(2, 2), Mine()), tmp_path / "x.safetensors")


def test_load_unknown_class(tmp_path):
    _write(
        tmp_path / "u.safetensors",
        {
            "class": "Sequential",
            "config": {},
            "children": {"0": {"class": "os.system", "config": {}}},
        },
    )
    with pytest.raises(ValueError, match=r"unknown layer class 'os.system' at `model.0`"):
        dlx.load(tmp_path / "u.safetensors")
    _write(tmp_path / "m.safetensors", {"class": "Module", "config": {}})
    with pytest.raises(ValueError, match="unknown layer class 'Module'"):
        dlx.load(tmp_path / "m.safetensors")


def test_load_bad_config_keys_and_values(tmp_path):
    _write(
        tmp_path / "k.safetensors",
        {
            "class": "Linear",
            "config": {"in_features": 2, "out_features": 2, "__class__": 1, "evil": 2},
        },
    )
    with pytest.raises(ValueError, match=r"unknown keys \['__class__', 'evil'\]"):
        dlx.load(tmp_path / "k.safetensors")
    _write(
        tmp_path / "v.safetensors",
        {"class": "Linear", "config": {"in_features": -2, "out_features": 2}},
    )
    with pytest.raises(ValueError, match="cannot build `model` as Linear"):
        dlx.load(tmp_path / "v.safetensors")
    _write(tmp_path / "c.safetensors", {"class": "Linear", "config": [1, 2]})
    with pytest.raises(ValueError, match="must be an object"):
        dlx.load(tmp_path / "c.safetensors")
    _write(tmp_path / "f.safetensors", {"class": "Linear", "config": {}, "code": "x"})
    with pytest.raises(ValueError, match=r"unknown fields \['code'\]"):
        dlx.load(tmp_path / "f.safetensors")


def test_load_shape_mismatch_names_key(tmp_path):
    arch = {
        "class": "Sequential",
        "config": {},
        "children": {
            "0": {"class": "Linear", "config": {"in_features": 2, "out_features": 3, "bias": True}}
        },
    }
    tensors = {"0.weight": np.zeros((3, 4), np.float32), "0.bias": np.zeros(3, np.float32)}
    _write(tmp_path / "s.safetensors", arch, {**tensors, "0.weight": np.zeros((3, 2), np.float32)})
    assert dlx.load(tmp_path / "s.safetensors")[0].weight.shape == (3, 2)
    tensors["0.weight"] = np.zeros((30, 2), np.float32)  # covers the budget, wrong shape
    _write(tmp_path / "w.safetensors", arch, tensors)
    with pytest.raises(ValueError, match=r"0.weight"):
        dlx.load(tmp_path / "w.safetensors")
    missing = {"0.weight": np.zeros((3, 2), np.float32), "junk": np.zeros(5, np.float32)}
    _write(tmp_path / "x.safetensors", arch, missing)
    with pytest.raises(ValueError, match=r"0.bias"):
        dlx.load(tmp_path / "x.safetensors")


def test_load_refuses_architectures_bigger_than_the_file(tmp_path):
    arch = {"class": "Linear", "config": {"in_features": 100, "out_features": 100}}
    _write(tmp_path / "b.safetensors", arch, {"weight": np.zeros(3, np.float32)})
    with pytest.raises(ValueError, match="needs shape \\(100, 100\\)"):
        dlx.load(tmp_path / "b.safetensors")


def test_load_deep_or_malformed_metadata(tmp_path):
    arch = {"class": "Identity", "config": {}}
    for _ in range(200):
        arch = {"class": "Sequential", "config": {}, "children": {"0": arch}}
    _write(tmp_path / "d.safetensors", arch)
    with pytest.raises(ValueError, match="nested deeper"):
        dlx.load(tmp_path / "d.safetensors")
    save_file({}, tmp_path / "j.safetensors", metadata={"dlx": "[" * 100000})
    with pytest.raises(SafetensorsError, match="not valid JSON"):
        dlx.load(tmp_path / "j.safetensors")
    _write(tmp_path / "v.safetensors", None, meta={"format": "dlx-model", "version": 2})
    with pytest.raises(ValueError, match="unsupported dlx model version 2"):
        dlx.load(tmp_path / "v.safetensors")
    save_file({"a": np.zeros(2)}, tmp_path / "plain.safetensors")
    with pytest.raises(ValueError, match="load_state_dict_file"):
        dlx.load(tmp_path / "plain.safetensors")


def test_load_truncated_file(tmp_path):
    path = tmp_path / "m.safetensors"
    dlx.save(_model(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SafetensorsError):
        dlx.load(path)
    path.write_bytes(b"\xff" * 8 + data[8:])
    with pytest.raises(SafetensorsError):
        dlx.load(path)


def test_load_state_dict_file(tmp_path):
    model = _model()
    save_file(model.state_dict(), tmp_path / "w.safetensors")
    other = _model()
    for p in other.parameters():
        p.data[...] = 0
    assert dlx.load_state_dict_file(tmp_path / "w.safetensors", other) is other
    for k, v in weights(model).items():
        np.testing.assert_array_equal(weights(other)[k], v)
    assert set(dlx.load_state_dict_file(tmp_path / "w.safetensors")) == set(model.state_dict())
    with pytest.raises(nn.StateDictError, match=r"unexpected|missing"):  # a RuntimeError
        dlx.load_state_dict_file(tmp_path / "w.safetensors", nn.Sequential(nn.Linear(64, 32)))


def test_import_dlx_stays_cheap(tmp_path):
    code = "import dlx, sys; print(any(m.startswith(('dlx.io', 'dlx.train')) for m in sys.modules))"
    out = run_python(code, tmp_path, check=True)
    assert out.stdout.strip() == "False"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        dlx.nope  # noqa: B018


def test_torch_safetensors_interop(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    st_torch.save_file(tmodel.state_dict(), str(tmp_path / "t.safetensors"))
    dmodel = nn.Sequential(nn.Linear(4, 3), nn.Identity(), nn.Linear(3, 2))
    dlx.load_state_dict_file(tmp_path / "t.safetensors", dmodel)
    x = np.random.default_rng(0).random((5, 4), dtype=np.float32)
    expected = tmodel[2](tmodel[0](torch.from_numpy(x))).detach().numpy()
    got = dmodel[2](dmodel[0](dlx.Tensor(x))).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    dlx.save(nn.Sequential(nn.Linear(4, 3)), tmp_path / "d.safetensors")
    back = st_torch.load_file(str(tmp_path / "d.safetensors"))
    assert set(back) == {"0.weight", "0.bias"}


# -- state dicts (torch.save(model.state_dict(), p) / torch.load(p) written with dlx) ---------
def test_save_load_state_dict_round_trip(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).double()
    model.train()
    model(dlx.tensor(np.random.default_rng(0).normal(size=(5, 3))))
    state = model.state_dict()
    dlx.save(state, tmp_path / "sd.safetensors")
    got = dlx.load(tmp_path / "sd.safetensors")
    assert list(got) == list(state)  # the key order survives the dtype-sorted file layout
    for k, v in state.items():
        assert isinstance(got[k], dlx.Tensor)
        assert got[k].dtype == v.dtype, k
        np.testing.assert_array_equal(got[k].numpy(), v.numpy(), err_msg=k)
    fresh = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).double()
    fresh.load_state_dict(got)
    np.testing.assert_array_equal(fresh[1].running_var.numpy(), model[1].running_var.numpy())
    arrays = {"b": np.arange(3), "a": np.ones((2, 2), np.float32)}
    dlx.save(arrays, tmp_path / "arrays.safetensors")
    assert list(dlx.load(tmp_path / "arrays.safetensors")) == ["b", "a"]
    assert set(dlx.load_state_dict_file(tmp_path / "arrays.safetensors")) == {"a", "b"}


def test_save_state_dict_errors_name_the_key(tmp_path):
    with pytest.raises(TypeError, match=r"`obj\['run'\]\[1\]` is a set"):
        dlx.save({"w": np.zeros(2), "run": [1, {2}]}, tmp_path / "x.safetensors")
    with pytest.raises(TypeError, match="has a key of type tuple"):
        dlx.save({(1, 2): np.zeros(2)}, tmp_path / "x.safetensors")
    with pytest.raises(ValueError, match="`input_shape` is stored with a model"):
        dlx.save({"w": np.zeros(2)}, tmp_path / "x.safetensors", input_shape=(2,))
    deep: dict = {}
    for _ in range(70):
        deep = {"d": deep}
    with pytest.raises(ValueError, match="nested deeper than 64"):
        dlx.save(deep, tmp_path / "x.safetensors")
    assert not (tmp_path / "x.safetensors").exists()


def test_save_load_nested_checkpoint_with_optimizer(tmp_path):
    # torch.save({"model": ..., "optimizer": ..., "epoch": ...}, p) / torch.load(p), ported
    def setup():
        dlx.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
        return model, dlx.optim.Adam(model.parameters(), lr=0.05)

    x = dlx.tensor(np.random.default_rng(1).normal(size=(8, 3)).astype(np.float32))

    def step(model, opt):
        opt.zero_grad()
        loss = (model(x) ** 2).mean()
        loss.backward()
        opt.step()
        return loss.item()

    model, opt = setup()
    for _ in range(3):
        step(model, opt)
    ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3,
            "losses": (0.5, float("nan")), "note": None, 7: [True, "x"]}  # fmt: skip
    dlx.save(ckpt, tmp_path / "ckpt.safetensors")
    back = dlx.load(tmp_path / "ckpt.safetensors")
    assert back["epoch"] == 3
    assert back["note"] is None
    assert back[7] == [True, "x"]
    assert back["losses"][0] == 0.5
    assert np.isnan(back["losses"][1])
    assert list(back["model"]) == list(ckpt["model"])
    assert set(back["optimizer"]["state"]) == {0, 1, 2, 3}
    model2, opt2 = setup()
    model2.load_state_dict(back["model"])
    opt2.load_state_dict(back["optimizer"])
    assert [step(model2, opt2) for _ in range(2)] == [step(model, opt) for _ in range(2)]


def test_load_rejects_malformed_object_trees(tmp_path):
    for tree in ({"d": [[1]]}, {"t": "9"}, {"x": 1}, [1], {"l": [{"v": [1]}]}):
        meta = {"format": "dlx-object", "version": 1, "tree": tree}
        save_file({}, tmp_path / "bad.safetensors", metadata={"dlx": json.dumps(meta)})
        with pytest.raises(ValueError, match="saved object"):
            dlx.load(tmp_path / "bad.safetensors")
    meta = {"format": "dlx-object", "version": 1, "tree": {"v": 1}}
    save_file(
        {"0": np.zeros(1)}, tmp_path / "extra.safetensors", metadata={"dlx": json.dumps(meta)}
    )
    with pytest.raises(ValueError, match="do not match"):
        dlx.load(tmp_path / "extra.safetensors")


def test_load_state_dict_file_reads_torch_checkpoints(tmp_path):
    torch = pytest.importorskip("torch")
    tmodel = torch.nn.Linear(3, 2)
    torch.save(tmodel.state_dict(), tmp_path / "m.pt")
    got = dlx.load_state_dict_file(tmp_path / "m.pt")
    np.testing.assert_array_equal(got["weight"], tmodel.weight.detach().numpy())
    torch.save({"model": tmodel.state_dict(), "epoch": 2}, tmp_path / "ckpt.pt")
    with pytest.raises(ValueError, match=r"keys \['model', 'epoch'\].*load_torch\(path\)\[key\]"):
        dlx.load_state_dict_file(tmp_path / "ckpt.pt", nn.Linear(3, 2))
