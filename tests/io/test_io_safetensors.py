"""safetensors reader/writer: round trips, interop with the reference package, hostile files."""

from __future__ import annotations

import json
import os
import struct

import numpy as np
import pytest

import dlx.io
from dlx.io import SafetensorsError, load_bytes, load_file, read_metadata, save_bytes, save_file

DTYPES = [
    np.float64, np.float32, np.float16, np.int64, np.int32, np.int16, np.int8,
    np.uint64, np.uint32, np.uint16, np.uint8, np.bool_,
]  # fmt: skip
SHAPES = [(), (0,), (3,), (2, 0, 3), (2, 3, 4), (1, 1, 1, 5)]


def _array(dtype, shape, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == np.bool_:
        return np.asarray(rng.random(shape) < 0.5)
    return np.asarray(rng.standard_normal(shape) * 50).astype(dtype)


def _all_tensors() -> dict[str, np.ndarray]:
    return {
        f"{np.dtype(d).name}.{i}": _array(d, s, i) for d in DTYPES for i, s in enumerate(SHAPES)
    }


def _assert_same(got: dict, expected: dict) -> None:
    assert set(got) == set(expected)
    for name, arr in expected.items():
        assert got[name].dtype == arr.dtype, name
        assert got[name].shape == arr.shape, name
        np.testing.assert_array_equal(got[name], arr, err_msg=name)


def _blob(header: dict | bytes, data: bytes = b"", length: int | None = None) -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


# --------------------------------------------------------------------------- round trips


def test_round_trip_all_dtypes_and_shapes(tmp_path) -> None:
    tensors = _all_tensors()
    path = tmp_path / "t.safetensors"
    save_file(tensors, path, metadata={"format": "np", "note": "é ✓"})
    _assert_same(load_file(path), tensors)
    _assert_same(load_file(path, mmap=True), tensors)
    _assert_same(load_bytes(save_bytes(tensors)), tensors)
    assert read_metadata(path) == {"format": "np", "note": "é ✓"}


def test_loaded_arrays_are_writable_and_mmap_ones_read_only(tmp_path) -> None:
    path = tmp_path / "t.safetensors"
    save_file({"w": np.ones((2, 2), np.float32)}, path)
    w = load_file(path)["w"]
    w += 1
    assert w.flags.writeable
    assert w.flags.c_contiguous
    m = load_file(path, mmap=True)["w"]
    assert not m.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        m += 1


def test_zero_d_results_are_arrays(tmp_path) -> None:
    blob = save_bytes({"b": np.array(True), "f": np.array(2.5)})
    got = load_bytes(blob)
    assert isinstance(got["b"], np.ndarray)
    assert got["b"].shape == ()
    assert got["b"].dtype == np.bool_
    assert isinstance(got["f"], np.ndarray)
    assert got["f"] == 2.5


def test_non_contiguous_and_big_endian_inputs_are_written_in_order() -> None:
    base = np.arange(24, dtype=np.float64).reshape(4, 6)
    tensors = {
        "t": base.T,
        "s": base[::2, 1::3],
        "be": base.astype(">i4"),
        "f": np.asfortranarray(base),
    }
    got = load_bytes(save_bytes(tensors))
    for name, arr in tensors.items():
        np.testing.assert_array_equal(got[name], arr)
        assert got[name].dtype.isnative
    assert got["be"].dtype == np.int32


def test_layout_is_aligned_and_header_padded() -> None:
    blob = save_bytes(
        {"a": np.ones(3, np.int8), "b": np.ones(3, np.float64), "c": np.ones(1, np.float16)}
    )
    (n,) = struct.unpack("<Q", blob[:8])
    assert n % 8 == 0
    header = json.loads(blob[8 : 8 + n])
    assert [header[k]["data_offsets"] for k in ("b", "c", "a")] == [[0, 24], [24, 26], [26, 29]]
    assert "__metadata__" not in header


def test_bf16_reads_as_float32() -> None:
    values = np.array([1.0, -2.5, 3.140625, 0.0, np.inf], np.float32)
    bits = (values.view(np.uint32) >> 16).astype("<u2")
    header = {"x": {"dtype": "BF16", "shape": [5], "data_offsets": [0, 10]}}
    got = load_bytes(_blob(header, bits.tobytes()))["x"]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, values)


def test_metadata_defaults_and_null() -> None:
    blob = save_bytes({"x": np.zeros(1)})
    assert load_bytes(blob)["x"].shape == (1,)
    header = {"__metadata__": None, "x": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}
    assert load_bytes(_blob(header, b"\x07"))["x"][0] == 7


def test_empty_file_of_tensors(tmp_path) -> None:
    path = tmp_path / "e.safetensors"
    save_file({}, path, metadata={"k": "v"})
    assert load_file(path) == {}
    assert load_file(path, mmap=True) == {}
    assert read_metadata(path) == {"k": "v"}


# --------------------------------------------------------------------------- interop


def test_interop_with_safetensors_numpy(tmp_path) -> None:
    st = pytest.importorskip("safetensors.numpy")
    safetensors = pytest.importorskip("safetensors")
    tensors = _all_tensors()
    ours = tmp_path / "ours.safetensors"
    save_file(tensors, ours, metadata={"who": "dlx"})
    _assert_same(st.load_file(str(ours)), tensors)
    with safetensors.safe_open(str(ours), framework="np") as f:
        assert f.metadata() == {"who": "dlx"}
    theirs = tmp_path / "theirs.safetensors"
    st.save_file(tensors, str(theirs), metadata={"who": "hf"})
    _assert_same(load_file(theirs), tensors)
    assert read_metadata(theirs) == {"who": "hf"}
    assert save_bytes(tensors, {"who": "x"}) == st.save(tensors, metadata={"who": "x"})


def test_interop_with_safetensors_torch(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    stt = pytest.importorskip("safetensors.torch")
    state = {
        "0.weight": torch.randn(4, 3),
        "0.bias": torch.randn(4, dtype=torch.float64),
        "bf": torch.randn(5).to(torch.bfloat16),
        "steps": torch.tensor(7),
        "mask": torch.tensor([True, False]),
    }
    path = tmp_path / "torch.safetensors"
    stt.save_file(state, str(path), metadata={"arch": "{}"})
    got = load_file(path)
    for name, t in state.items():
        expected = t.float().numpy() if t.dtype == torch.bfloat16 else t.numpy()
        np.testing.assert_array_equal(got[name], expected)
    back = tmp_path / "back.safetensors"
    save_file({k: v for k, v in got.items() if k != "bf"}, back)
    for name, t in stt.load_file(str(back)).items():
        assert torch.equal(t, state[name])


# --------------------------------------------------------------------------- hostile files

_F32x2 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
HOSTILE = {
    "too_short": (b"\x01\x00\x00", "fewer than the 8-byte header length"),
    "length_past_end": (
        _blob({"a": _F32x2}, bytes(8), length=500),
        "header length 500 is larger than the rest",
    ),
    "huge_length": (_blob(b"{}", length=2**63), "header length 9223372036854775808 is larger"),
    "offsets_outside": (
        _blob({"a": _F32x2}, bytes(4)),
        "ends at data offset 8, past the end of the data section \\(4",
    ),
    "far_offsets": (
        _blob({"a": {"dtype": "F64", "shape": [2**40], "data_offsets": [0, 2**43]}}),
        "past the end of the data section",
    ),
    "overlap": (
        _blob(
            {"a": _F32x2, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12)
        ),
        "tensors 'a' and 'b' overlap",
    ),
    "hole": (
        _blob({"a": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12)),
        "bytes 0..4 belong to no tensor",
    ),
    "trailing": (_blob({"a": _F32x2}, bytes(10)), "bytes 8..10 belong to no tensor"),
    "unknown_dtype": (_blob({"a": {**_F32x2, "dtype": "F128"}}, bytes(8)), "unknown dtype 'F128'"),
    "dtype_not_str": (_blob({"a": {**_F32x2, "dtype": 4}}, bytes(8)), "unknown dtype 4"),
    "fp8": (
        _blob({"a": {**_F32x2, "dtype": "F8_E4M3"}}, bytes(8)),
        "dtype F8_E4M3, which dlx cannot represent",
    ),
    "size_mismatch": (
        _blob({"a": {**_F32x2, "shape": [3]}}, bytes(8)),
        "shape \\[3\\] needs 12 bytes, but its data_offsets \\[0, 8\\] span 8",
    ),
    "negative_shape": (
        _blob({"a": {**_F32x2, "shape": [-2]}}, bytes(8)),
        "expected a list of non-negative ints",
    ),
    "float_shape": (
        _blob({"a": {**_F32x2, "shape": [2.0]}}, bytes(8)),
        "expected a list of non-negative ints",
    ),
    "bool_shape": (
        _blob({"a": {**_F32x2, "shape": [True, True]}}, bytes(8)),
        "expected a list of non-negative ints",
    ),
    "too_many_dims": (
        _blob({"a": {**_F32x2, "shape": [1] * 65, "data_offsets": [0, 4]}}, bytes(4)),
        "65 dimensions",
    ),
    "offsets_shape": (
        _blob({"a": {**_F32x2, "data_offsets": [0]}}, bytes(8)),
        "expected \\[begin, end\\] ints",
    ),
    "reversed_offsets": (
        _blob({"a": {**_F32x2, "data_offsets": [8, 0]}}, bytes(8)),
        "expected 0 <= begin <= end",
    ),
    "missing_key": (
        _blob({"a": {"dtype": "F32", "shape": [2]}}, bytes(8)),
        "exactly 'dtype', 'shape' and 'data_offsets'",
    ),
    "extra_key": (
        _blob({"a": {**_F32x2, "eval": "x"}}, bytes(8)),
        "exactly 'dtype', 'shape' and 'data_offsets'",
    ),
    "entry_not_object": (_blob({"a": [1, 2]}), "must be an object"),
    "not_utf8": (_blob(b'{"\xff":1}'), "the header is not UTF-8"),
    "invalid_json": (_blob(b'{"a": '), "the header is not valid JSON"),
    "json_array": (_blob(b"[1, 2]"), "the header is not a JSON object"),
    "json_leading_space": (_blob(b' {"a": 1}'), "the header is not a JSON object"),
    "nan_constant": (_blob(b'{"a": NaN}'), "NaN is not allowed"),
    "duplicate_key": (_blob(b'{"a": {}, "a": {}}'), "duplicate key 'a'"),
    "deep_nesting": (_blob(b"{" + b'"a":[' * 100000 + b"]" * 100000 + b"}"), "not valid JSON"),
    "metadata_values": (_blob({"__metadata__": {"k": 1}}), "'__metadata__' must map str to str"),
    "metadata_list": (_blob({"__metadata__": ["k"]}), "'__metadata__' must map str to str"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_file_raises_clear_error(tmp_path, case) -> None:
    blob, pattern = HOSTILE[case]
    path = tmp_path / f"{case}.safetensors"
    path.write_bytes(blob)
    for load in (load_file, lambda p: load_file(p, mmap=True), read_metadata):
        with pytest.raises(SafetensorsError, match=pattern) as info:
            load(path)
        assert str(path) in str(info.value)
    with pytest.raises(ValueError, match=pattern):
        load_bytes(blob)


def test_header_cap_is_checked_before_reading(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(dlx.io._header, "MAX_HEADER_SIZE", 16)
    path = tmp_path / "big.safetensors"
    path.write_bytes(_blob({"a": _F32x2}, bytes(8)))
    with pytest.raises(SafetensorsError, match="exceeds the 16-byte limit"):
        load_file(path)


def test_truncated_valid_file_raises(tmp_path) -> None:
    blob = save_bytes({"w": np.ones((10, 10), np.float32), "b": np.ones(10)})
    for cut in (4, 20, len(blob) - 1):
        with pytest.raises(SafetensorsError):
            load_bytes(blob[:cut])


def test_missing_file_raises_filenotfound(tmp_path) -> None:
    with pytest.raises(FileNotFoundError):
        load_file(tmp_path / "nope.safetensors")


# --------------------------------------------------------------------------- writer errors


def test_save_rejects_bad_inputs(tmp_path) -> None:
    path = tmp_path / "x.safetensors"
    with pytest.raises(TypeError, match="tensor names must be str, got 1"):
        save_file({1: np.zeros(1)}, path)  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="reserved name '__metadata__'"):
        save_file({"__metadata__": np.zeros(1)}, path)
    with pytest.raises(
        TypeError, match="tensor 'c' has dtype complex128, which safetensors cannot store"
    ):
        save_file({"c": np.zeros(2, complex)}, path)
    with pytest.raises(TypeError, match="tensor 'o' has dtype object"):
        save_file({"o": np.array([None])}, path)
    with pytest.raises(TypeError, match="`metadata` must map str to str, got 'k': 1"):
        save_file({}, path, metadata={"k": 1})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="`tensors` must be a mapping"):
        save_file([np.zeros(1)], path)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not valid Unicode"):
        save_file({"\ud800": np.zeros(1)}, path)
    assert not os.listdir(tmp_path)


def test_interrupted_save_keeps_previous_file(tmp_path, monkeypatch) -> None:
    path = tmp_path / "model.safetensors"
    save_file({"w": np.arange(4.0)}, path, metadata={"v": "1"})
    before = path.read_bytes()
    calls = []

    def failing_write(f, arr):
        calls.append(1)
        f.write(b"partial")
        if len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(dlx.io.safetensors, "_write_array", failing_write)
    with pytest.raises(KeyboardInterrupt):
        save_file({"a": np.zeros(3), "b": np.ones(3)}, path, metadata={"v": "2"})
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.safetensors"]
    assert read_metadata(path) == {"v": "1"}
