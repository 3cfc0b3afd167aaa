"""dlx.load_torch: PyTorch checkpoints read without PyTorch and without running their code.

Files written by torch (an optional oracle) are compared bit for bit; hostile files are
crafted here without torch (tests/_support/torch_pickles.py) and each must be refused with a clear
error while a sentinel file proves that none of their payloads ran.
"""

from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import torch_pickles as tp

import dlx
from dlx.io import SafetensorsError, TorchCheckpointError, UnsafeCheckpointError


def _write(tmp_path, data: bytes, name: str = "ckpt.pt"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _f32(values) -> bytes:
    return np.asarray(values, "<f4").tobytes()


# -- crafted, well-formed files (no torch needed) ----------------------------------------------
def test_load_torch_crafted_views_and_shared_storage(tmp_path):
    s = tp.StorageRef("0", 12)
    obj = tp.ORDERED(
        [
            ("full", tp.tensor(s, (3, 4), (4, 1))),
            ("t", tp.tensor(s, (4, 3), (1, 4))),  # transposed view
            ("row", tp.tensor(s, (4,), (1,), offset=8)),
            ("cols", tp.tensor(s, (3, 2), (4, 2), offset=1)),  # strided
        ]
    )
    data = tp.zip_checkpoint(tp.dumps(obj), {"0": _f32(np.arange(12))})
    out = dlx.load_torch(_write(tmp_path, data), numpy=True)
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert list(out) == ["full", "t", "row", "cols"]
    np.testing.assert_array_equal(out["full"], base)
    np.testing.assert_array_equal(out["t"], base.T)
    np.testing.assert_array_equal(out["row"], base[2])
    np.testing.assert_array_equal(out["cols"], base[:, 1::2])
    out["full"][0, 0] = 99  # copies: no shared memory between results
    assert out["t"][0, 0] == 0


def test_load_torch_crafted_big_endian_and_dtypes(tmp_path):
    entries, storages = [], {}
    cases = {
        "DoubleStorage": ">f8",
        "HalfStorage": ">f2",
        "LongStorage": ">i8",
        "IntStorage": ">i4",
        "ShortStorage": ">i2",
        "CharStorage": "i1",
        "ByteStorage": "u1",
        "BoolStorage": "?",
    }
    for i, (stype, dt) in enumerate(cases.items()):
        values = np.array([1, 0, 3], dtype=dt)
        storages[str(i)] = values.tobytes()
        entries.append((stype, tp.tensor(tp.StorageRef(str(i), 3, stype), (3,), (1,))))
    data = tp.zip_checkpoint(tp.dumps(dict(entries)), storages, byteorder="big")
    out = dlx.load_torch(_write(tmp_path, data), numpy=True)
    for stype, dt in cases.items():
        assert out[stype].dtype == np.dtype(dt).newbyteorder("=")
        np.testing.assert_array_equal(out[stype], np.array([1, 0, 3], dt))


def test_load_torch_bfloat16_widens_exactly(tmp_path):
    f = np.array([1.5, -2.25, 3.0e38, 1e-30], np.float32)
    bits = (f.view(np.uint32) >> 16).astype("<u2")
    obj = {"w": tp.tensor(tp.StorageRef("0", 4, "BFloat16Storage"), (4,), (1,))}
    out = dlx.load_torch(_write(tmp_path, tp.zip_checkpoint(tp.dumps(obj), {"0": bits.tobytes()})))
    assert isinstance(out["w"], dlx.Tensor)
    expected = (bits.astype(np.uint32) << 16).view(np.float32)
    np.testing.assert_array_equal(out["w"].numpy(), expected)


def test_load_torch_parameter_and_containers(tmp_path):
    s = tp.StorageRef("7", 2)
    obj = {
        "epoch": 3,
        "lr": 0.5,
        "name": "run",
        "p": tp.PARAMETER(tp.tensor(s, (2,), (1,)), True, tp.ORDERED()),
        "nested": [(tp.tensor(s, (1,), (1,), offset=1), {"k": None})],
        "size": tp.Global("torch", "Size")([2, 3]),
    }
    data = tp.zip_checkpoint(tp.dumps(obj), {"7": _f32([4, 5])}, prefix="other_name")
    out = dlx.load_torch(_write(tmp_path, data))
    assert (out["epoch"], out["lr"], out["name"]) == (3, 0.5, "run")
    assert isinstance(out["p"], dlx.nn.Parameter)
    assert out["p"].requires_grad
    np.testing.assert_array_equal(out["nested"][0][0].numpy(), [5.0])
    assert out["size"] == (2, 3)


# -- hostile files: refused, nothing executed --------------------------------------------------
class _Payload:
    """The classic: an object whose __reduce__ runs a shell command when unpickled."""

    def __init__(self, func, *args) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _sentinel_cmd(sentinel) -> str:
    return f"touch {sentinel}"


def _hostile_objects(sentinel):
    cmd = _sentinel_cmd(sentinel)
    code = f"open({str(sentinel)!r}, 'w').write('x')"
    s = tp.StorageRef("0", 4)
    good = tp.tensor(s, (4,), (1,))
    return {
        "os.system": (tp.Global("os", "system")(cmd), "os.system"),
        "posix.system via __reduce__": (_Payload(os.system, cmd), "posix.system"),
        "builtins.eval": (tp.Global("builtins", "eval")(code), "builtins.eval"),
        "builtins.exec": (tp.Global("builtins", "exec")(code), "builtins.exec"),
        "builtins.getattr": (
            tp.Global("builtins", "getattr")(tp.Global("builtins", "__import__")("os"), "system"),
            "builtins.getattr",
        ),
        "subprocess.Popen": (tp.Global("subprocess", "Popen")(["touch", str(sentinel)]), "Popen"),
        "nested in a state dict": (
            tp.ORDERED([("w", good), ("evil", tp.Global("os", "system")(cmd))]),
            "os.system",
        ),
        "payload as a tensor's hook dict": (
            tp.REBUILD(s, 0, (4,), (1,), False, tp.Global("os", "system")(cmd)),
            "os.system",
        ),
        "payload as a storage type": (
            tp.tensor(tp.StorageRef("0", 4, tp.Global("os", "system")), (4,), (1,)),
            "os.system",
        ),
        "a torch function outside the allow list": (
            tp.Global("torch", "load")("/etc/passwd"),
            "torch.load",
        ),
        "unknown torch._utils helper": (
            tp.Global("torch._utils", "_rebuild_device_tensor_from_numpy")(b"", "f4", (1,), False),
            "_rebuild_device_tensor_from_numpy",
        ),
        "a whole pickled model": (
            tp.Global("torch.nn.modules.linear", "Linear")(),
            "save model.state_dict()",
        ),
        "numpy reconstruct": (
            tp.Global("numpy.core.multiarray", "_reconstruct")(),
            "numpy.core.multiarray._reconstruct",
        ),
    }


@pytest.mark.parametrize("case", sorted(_hostile_objects("x")))
@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_load_torch_refuses_hostile_globals(tmp_path, case, fmt):
    sentinel = tmp_path / "pwned"
    obj, named = _hostile_objects(sentinel)[case]
    pkl = tp.dumps(obj)
    if fmt == "zip":
        data = tp.zip_checkpoint(pkl, {"0": _f32([1, 2, 3, 4])})
    else:
        data = _legacy(pkl, {"0": (4, _f32([1, 2, 3, 4]))})
    with pytest.raises(UnsafeCheckpointError, match="refused") as info:
        dlx.load_torch(_write(tmp_path, data))
    assert named in str(info.value)
    assert not sentinel.exists()


def test_load_torch_refuses_protocol0_inst_and_build(tmp_path):
    sentinel = tmp_path / "pwned"
    inst = b"(S'touch " + str(sentinel).encode() + b"'\nios\nsystem\n."  # INST opcode
    with pytest.raises(UnsafeCheckpointError, match=r"os.system"):
        dlx.load_torch(_write(tmp_path, tp.zip_checkpoint(inst, {})))
    # BUILD on an allowed object other than a dict (would set attributes / __setstate__)
    build = tp.dumps(tp.Global("builtins", "set")([1]))[:-1] + b"}" + pickle.BUILD + b"."
    with pytest.raises(UnsafeCheckpointError, match="state of a set"):
        dlx.load_torch(_write(tmp_path, tp.zip_checkpoint(build, {})))
    assert not sentinel.exists()


def test_unsafe_error_is_a_dlx_bad_file_error():
    assert issubclass(UnsafeCheckpointError, TorchCheckpointError)
    assert issubclass(TorchCheckpointError, SafetensorsError)
    assert issubclass(UnsafeCheckpointError, ValueError)


def _legacy(pkl: bytes, storages: dict[str, tuple[int, bytes]]) -> bytes:
    out = io.BytesIO()
    for header in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
        pickle.dump(header, out, protocol=2)
    out.write(pkl)
    pickle.dump(list(storages), out, protocol=2)
    for numel, raw in storages.values():
        out.write(struct.pack("<q", numel) + raw)
    return out.getvalue()


def test_load_torch_legacy_crafted(tmp_path):
    obj = {"w": tp.tensor(tp.StorageRef("0", 4), (2, 2), (1, 2))}
    data = _legacy(tp.dumps(obj), {"0": (4, _f32([1, 2, 3, 4]))})
    out = dlx.load_torch(_write(tmp_path, data), numpy=True)
    np.testing.assert_array_equal(out["w"], [[1, 3], [2, 4]])
    with pytest.raises(TorchCheckpointError, match="needs 16 bytes"):
        dlx.load_torch(_write(tmp_path, data[:-3]))


@pytest.mark.parametrize(
    ("numel", "size", "stride", "offset", "match"),
    [
        (1 << 50, (4,), (1,), 0, "claims 1125899906842624"),  # storage larger than member
        (4, (5,), (1,), 0, "reaches element 4"),
        (4, (2, 2), (2, 1), 1, "reaches element 4"),
        (4, (1 << 40, 1 << 40), (0, 0), 0, "more elements than its storage"),
        (4, (2,), (1, 1), 0, "do not fit"),
        (4, (-1,), (1,), 0, "non-negative"),
        (4, (2,), (1,), -1, "do not fit"),
    ],
)
def test_load_torch_bounds_checked_before_allocation(tmp_path, numel, size, stride, offset, match):
    obj = {"w": tp.tensor(tp.StorageRef("0", numel), size, stride, offset)}
    data = tp.zip_checkpoint(tp.dumps(obj), {"0": _f32([1, 2, 3, 4])})
    with pytest.raises(TorchCheckpointError, match=match):
        dlx.load_torch(_write(tmp_path, data))


def test_load_torch_legacy_huge_storage_refused(tmp_path):
    obj = {"w": tp.tensor(tp.StorageRef("0", 1 << 45), (4,), (1,))}
    data = _legacy(tp.dumps(obj), {"0": (1 << 45, _f32([1, 2, 3, 4]))})
    with pytest.raises(TorchCheckpointError, match="claims 35184372088832"):
        dlx.load_torch(_write(tmp_path, data))


def test_load_torch_truncated_files(tmp_path):
    obj = tp.ORDERED([("w", tp.tensor(tp.StorageRef("0", 256), (256,), (1,)))])
    data = tp.zip_checkpoint(tp.dumps(obj), {"0": _f32(np.arange(256))})
    for cut in (10, len(data) // 3, len(data) // 2, len(data) - 30):
        with pytest.raises(TorchCheckpointError):
            dlx.load_torch(_write(tmp_path, data[:cut]))
    pkl = tp.dumps(obj)
    with pytest.raises(TorchCheckpointError, match="truncated or corrupt"):
        dlx.load_torch(_write(tmp_path, tp.zip_checkpoint(pkl[:-5], {"0": _f32(np.arange(256))})))
    with pytest.raises(TorchCheckpointError, match="has no member"):
        dlx.load_torch(_write(tmp_path, tp.zip_checkpoint(pkl, {})))


def test_load_torch_refuses_zip_bombs(tmp_path):
    obj = {"w": tp.tensor(tp.StorageRef("0", 4), (4,), (1,))}
    bomb = tp.dumps(obj)[:-1] + b"0" * (8 << 20) + b"."  # POP padding: 8 MB of opcodes
    data = tp.zip_checkpoint(bomb, {"0": _f32([1, 2, 3, 4])}, compress=zipfile.ZIP_DEFLATED)
    assert len(data) < 100_000
    with pytest.raises(TorchCheckpointError, match="zip bomb"):
        dlx.load_torch(_write(tmp_path, data))
    storage_bomb = tp.zip_checkpoint(
        tp.dumps({"w": tp.tensor(tp.StorageRef("0", 2 << 20), (4,), (1,))}),
        {"0": bytes(8 << 20)},
        compress=zipfile.ZIP_DEFLATED,
    )
    with pytest.raises(TorchCheckpointError, match="zip bomb"):
        dlx.load_torch(_write(tmp_path, storage_bomb))


@pytest.mark.parametrize(
    "name", ["../evil", "/etc/passwd", "archive/../../evil", "archive\\..\\evil", "C:/evil"]
)
def test_load_torch_refuses_path_traversal_members(tmp_path, name):
    obj = {"w": tp.tensor(tp.StorageRef("0", 1), (1,), (1,))}
    data = tp.zip_checkpoint(tp.dumps(obj), {"0": _f32([1])}, extra={name: b"x"})
    with pytest.raises(TorchCheckpointError, match="outside the archive"):
        dlx.load_torch(_write(tmp_path, data))


@pytest.mark.parametrize("key", ["../0", "data/../../x", "", ".hidden", 7])
def test_load_torch_refuses_bad_storage_keys(tmp_path, key):
    obj = {"w": tp.tensor(tp.StorageRef(key, 1), (1,), (1,))}
    data = tp.zip_checkpoint(tp.dumps(obj), {"0": _f32([1])})
    with pytest.raises(TorchCheckpointError, match="invalid storage key"):
        dlx.load_torch(_write(tmp_path, data))


def test_load_torch_names_other_formats(tmp_path):
    st = _write(tmp_path, dlx.io.save_bytes({"a": np.zeros(2, np.float32)}), "w.safetensors")
    with pytest.raises(TorchCheckpointError, match=r"safetensors file; read it with dlx.load"):
        dlx.load_torch(st)
    npy = io.BytesIO()
    np.save(npy, np.zeros(3))
    with pytest.raises(TorchCheckpointError, match=r"NumPy .npy"):
        dlx.load_torch(_write(tmp_path, npy.getvalue(), "a.npy"))
    with pytest.raises(TorchCheckpointError, match="unknown format"):
        dlx.load_torch(_write(tmp_path, b"hello world", "a.txt"))
    with pytest.raises(TorchCheckpointError, match="no PyTorch magic"):
        dlx.load_torch(_write(tmp_path, pickle.dumps([1, 2], protocol=2), "a.pkl"))
    other_zip = io.BytesIO()
    with zipfile.ZipFile(other_zip, "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(TorchCheckpointError, match="not a PyTorch checkpoint"):
        dlx.load_torch(_write(tmp_path, other_zip.getvalue(), "a.zip"))
    tar = bytearray(1024)
    tar[257:262] = b"ustar"
    with pytest.raises(TorchCheckpointError, match=r"pre-1.0"):
        dlx.load_torch(_write(tmp_path, bytes(tar), "old.tar"))


def test_safetensors_readers_name_a_torch_checkpoint(tmp_path):
    obj = {"w": tp.tensor(tp.StorageRef("0", 1), (1,), (1,))}
    pt = _write(tmp_path, tp.zip_checkpoint(tp.dumps(obj), {"0": _f32([1])}))
    for fn in (dlx.load, dlx.io.load_file, dlx.io.read_index):
        with pytest.raises(SafetensorsError, match=r"zip archive.*use|dlx.load_torch"):
            fn(pt)
    legacy = _write(tmp_path, _legacy(tp.dumps(obj), {"0": (1, _f32([1]))}), "old.pt")
    with pytest.raises(SafetensorsError, match=r"legacy PyTorch checkpoint.*dlx.load_torch"):
        dlx.load(legacy)


# -- torch as the oracle -----------------------------------------------------------------------
@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _models(torch):
    nn = torch.nn
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(3)
    bn.train()
    bn(torch.randn(4, 3, 5, 5))  # non-trivial running stats and num_batches_tracked
    return {
        "linear": nn.Linear(5, 3),
        "conv": nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.Conv2d(4, 1, 1, bias=False)),
        "batchnorm": bn,
        "lstm": nn.LSTM(3, 4, num_layers=2, batch_first=True),
    }


def _np(t):
    return t.detach().float().numpy() if t.dtype == t.new_empty(0).bfloat16().dtype else t.numpy()


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize("which", ["linear", "conv", "batchnorm", "lstm"])
def test_load_torch_state_dicts_bit_exact(tmp_path, torch, which, legacy):
    model = _models(torch)[which]
    path = tmp_path / "m.pt"
    torch.save(model.state_dict(), path, _use_new_zipfile_serialization=not legacy)
    got = dlx.load_torch(path)
    ref = model.state_dict()
    assert list(got) == list(ref)
    for k, v in ref.items():
        assert got[k].dtype == v.numpy().dtype, k
        np.testing.assert_array_equal(got[k].numpy(), v.numpy(), err_msg=k)
    assert isinstance(got, OrderedDict)


def test_load_torch_into_dlx_model(tmp_path, torch):
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    torch.save(tmodel.state_dict(), tmp_path / "m.pth")
    model = dlx.nn.Sequential(dlx.nn.Linear(4, 3), dlx.nn.Tanh(), dlx.nn.Linear(3, 2))
    model.load_state_dict(dlx.load_torch(tmp_path / "m.pth"))
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    with torch.no_grad():
        ref = tmodel(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(dlx.tensor(x)).detach().numpy(), ref, rtol=1e-6, atol=1e-6)
    same = dlx.load_state_dict_file(tmp_path / "m.pth", model)
    assert same is model


@pytest.mark.parametrize("legacy", [False, True])
def test_load_torch_dtypes_views_shared_bit_exact(tmp_path, torch, legacy):
    g = torch.Generator().manual_seed(1)
    base = torch.randn(6, 8, generator=g)
    obj = {
        "float64": torch.randn(3, 2, dtype=torch.float64, generator=g),
        "float16": torch.randn(5, generator=g).half(),
        "bfloat16": torch.randn(7, generator=g).bfloat16(),
        "int64": torch.arange(-3, 9),
        "int32": torch.arange(5, dtype=torch.int32),
        "int16": torch.arange(-4, 4, dtype=torch.int16),
        "int8": torch.arange(-8, 8, dtype=torch.int8),
        "uint8": torch.arange(250, 256, dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
        "base": base,
        "transposed": base.t(),
        "slice": base[2:5, 1::3],
        "row_view": base[4],
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3),
        "param": torch.nn.Parameter(torch.randn(2, 2, generator=g)),
        "meta": {"epoch": 4, "names": ["a", "b"], "shape": base.shape},
    }
    path = tmp_path / "t.pt"
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    got = dlx.load_torch(path, numpy=True)
    for k, v in obj.items():
        if k == "meta":
            assert got[k] == {"epoch": 4, "names": ["a", "b"], "shape": (6, 8)}
            continue
        want = _np(v.detach())
        assert got[k].dtype == want.dtype, k
        assert got[k].shape == want.shape, k
        np.testing.assert_array_equal(got[k], want, err_msg=k)
    tensors = dlx.load_torch(path)
    assert isinstance(tensors["param"], dlx.nn.Parameter)
    assert not tensors["base"].requires_grad


def test_load_torch_refuses_whole_module_written_by_torch(tmp_path, torch):
    path = tmp_path / "whole.pt"
    torch.save(torch.nn.Linear(2, 2), path)
    with pytest.raises(UnsafeCheckpointError, match=r"torch\.nn\.modules.*state_dict"):
        dlx.load_torch(path)


def test_load_torch_refuses_memory_bombs_in_the_pickle(tmp_path):
    # BYTEARRAY8 declaring 2**40 bytes would allocate them before reading
    bomb = b"\x80\x05\x96" + struct.pack("<Q", 1 << 40) + b"x."
    with pytest.raises(TorchCheckpointError, match="protocol-5 buffers"):
        dlx.load_torch(_write(tmp_path, tp.zip_checkpoint(bomb, {})))
    # a legacy header whose BINBYTES8 declares far more than the file holds
    legacy = b"\x80\x02\x8e" + struct.pack("<Q", 1 << 60) + b"abc"
    with pytest.raises(TorchCheckpointError):
        dlx.load_torch(_write(tmp_path, legacy))
    # many full-size views of one storage: bounded by a multiple of the storage's bytes
    s = tp.StorageRef("0", 1 << 20)
    views = [tp.tensor(s, (1 << 20,), (1,), 0) for _ in range(40)]
    data = tp.zip_checkpoint(tp.dumps(views), {"0": bytes(4 << 20)})
    with pytest.raises(TorchCheckpointError, match="repeat their storages"):
        dlx.load_torch(_write(tmp_path, data))
    obj = tp.tensor(tp.StorageRef("0", 1), (0, 1 << 62), (1, 1))
    path = _write(tmp_path, tp.zip_checkpoint(tp.dumps(obj), {"0": _f32([1])}))
    with pytest.raises(TorchCheckpointError, match="below 2"):
        dlx.load_torch(path)


def test_load_torch_deep_nesting_is_an_error(tmp_path):
    pkl = b"\x80\x02" + b"]" * 100_000 + b"a" * 99_999 + b"."  # 100k nested lists
    with pytest.raises(TorchCheckpointError, match="nested too deeply"):
        dlx.load_torch(_write(tmp_path, tp.zip_checkpoint(pkl, {})), numpy=True)
    shallow = b"\x80\x02" + b"]" * 50 + b"a" * 49 + b"."
    out = dlx.load_torch(_write(tmp_path, tp.zip_checkpoint(shallow, {})))
    for _ in range(49):
        (out,) = out
    assert out == []


def test_load_torch_and_load_accept_torch_load_arguments(tmp_path):
    obj = {"w": tp.tensor(tp.StorageRef("0", 2), (2,), (1,))}
    pt = _write(tmp_path, tp.zip_checkpoint(tp.dumps(obj), {"0": _f32([1, 2])}))
    out = dlx.load_torch(pt, map_location="cpu", weights_only=True)
    np.testing.assert_array_equal(out["w"].numpy(), [1, 2])
    assert dlx.load_torch(pt, dlx.device("cpu"))["w"].shape == (2,)
    with pytest.raises(RuntimeError, match="CPU"):
        dlx.load_torch(pt, map_location="cuda:0")
    with pytest.raises(ValueError, match="`weights_only` must be True or None, got False"):
        dlx.load_torch(pt, weights_only=False)
    st = tmp_path / "sd.safetensors"
    dlx.save({"w": np.ones(2, np.float32)}, st)
    assert list(dlx.load(st, map_location="cpu", weights_only=True)) == ["w"]
    with pytest.raises(ValueError, match="weights_only"):
        dlx.load(st, weights_only=False)
    with pytest.raises(TypeError, match="mmap"):
        dlx.load(st, mmap=True)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
@pytest.mark.parametrize("legacy", [False, True])
def test_load_torch_pickle_protocols_and_containers(tmp_path, torch, protocol, legacy):
    g = torch.Generator().manual_seed(3)
    obj = {
        "a": torch.randn(3, 4, generator=g),
        "t": torch.randn(2, 5, generator=g).t(),
        "set": {1, 2},
        "frozen": frozenset([3]),
        "bytes": b"xyz",
        "complex": 1 + 2j,
        "device": torch.device("cpu"),
        "dtype": torch.float16,
        "size": torch.Size([2, 3]),
        "tuple": (1, "two", None, 3.5),
    }
    path = tmp_path / "p.pt"
    torch.save(obj, path, pickle_protocol=protocol, _use_new_zipfile_serialization=not legacy)
    out = dlx.load_torch(path, numpy=True)
    np.testing.assert_array_equal(out["a"], obj["a"].numpy())
    np.testing.assert_array_equal(out["t"], obj["t"].numpy())
    assert (out["set"], out["frozen"], out["bytes"], out["complex"]) == (
        {1, 2},
        {3},
        b"xyz",
        1 + 2j,
    )
    assert (out["device"], out["dtype"], out["size"]) == ("cpu", np.float16, (2, 3))
    assert out["tuple"] == (1, "two", None, 3.5)


def _patch_central_sizes(data: bytes, name: str, size: int) -> bytes:
    """Rewrite the sizes the zip's central directory declares for member ``name``."""
    buf = bytearray(data)
    start = 0
    while True:
        at = buf.index(b"PK\x01\x02", start)
        n = struct.unpack_from("<H", buf, at + 28)[0]
        if buf[at + 46 : at + 46 + n].decode() == name:
            struct.pack_into("<II", buf, at + 20, size, size)
            return bytes(buf)
        start = at + 4


def test_load_torch_member_sizes_checked_against_the_archive(tmp_path):
    obj = {"w": tp.tensor(tp.StorageRef("0", 1 << 29), (4,), (1,))}
    data = tp.zip_checkpoint(tp.dumps(obj), {"0": _f32([1, 2, 3, 4])})
    huge = _patch_central_sizes(data, "archive/data/0", 1 << 31)
    with pytest.raises(TorchCheckpointError, match="past the end of the"):
        dlx.load_torch(_write(tmp_path, huge))


def test_load_torch_corrupt_deflate_stream(tmp_path):
    obj = {"w": tp.tensor(tp.StorageRef("0", 64), (64,), (1,))}
    data = bytearray(
        tp.zip_checkpoint(tp.dumps(obj), {"0": _f32(np.zeros(64))}, compress=zipfile.ZIP_DEFLATED)
    )
    start = data.index(b"archive/data.pkl") + len("archive/data.pkl")
    for i in range(start + 2, start + 40):
        data[i] ^= 0x5A  # garble the compressed pickle
    with pytest.raises(TorchCheckpointError, match="corrupt"):
        dlx.load_torch(_write(tmp_path, bytes(data)))


def test_hostile_payload_anywhere_is_never_run(tmp_path):
    sentinel = tmp_path / "pwned"
    payload = tp.dumps(tp.Global("os", "system")(f"touch {sentinel}"))
    # in the legacy format's first (magic number) pickle
    legacy = _write(tmp_path, payload + pickle.dumps(1001, protocol=2), "legacy.pt")
    with pytest.raises(UnsafeCheckpointError, match=r"os\.system"):
        dlx.load_torch(legacy)
    zipped = _write(tmp_path, tp.zip_checkpoint(payload, {}), "zip.pt")
    with pytest.raises(UnsafeCheckpointError, match=r"os\.system"):
        dlx.load_state_dict_file(zipped, dlx.nn.Linear(2, 2))
    for path in (legacy, zipped):
        with pytest.raises(SafetensorsError, match="load_torch"):
            dlx.load(path)
    assert not sentinel.exists()


def test_load_torch_whole_storage_tensor_is_not_copied_twice(tmp_path):
    s = tp.StorageRef("0", 6)
    obj = {"w": tp.tensor(s, (2, 3), (3, 1)), "other": tp.tensor(tp.StorageRef("1", 2), (2,), (1,))}
    data = tp.zip_checkpoint(tp.dumps(obj), {"0": _f32(np.arange(6)), "1": _f32([7, 8])})
    out = dlx.load_torch(_write(tmp_path, data), numpy=True)
    np.testing.assert_array_equal(out["w"], np.arange(6, dtype=np.float32).reshape(2, 3))
    assert out["w"].flags.writeable
    assert out["w"].flags.c_contiguous
    out["w"][0, 0] = -1  # its own memory: the other tensor is untouched
    np.testing.assert_array_equal(out["other"], [7, 8])
