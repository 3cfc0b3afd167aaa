"""Kernel arguments an attacker or a careless caller passes: misaligned data, outputs that
overlap inputs, sizes near INT64_MAX, thread counts changed mid-convolution, convolutions
whose column matrix would not fit in memory."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import dlx
from dlx import _core, nn, reference
from dlx.io import load_file


# -- misaligned data -------------------------------------------------------------------------
def _misaligned_file(path, tensors):
    """A valid safetensors file whose header length is odd, so no tensor is aligned."""
    header, offset, blobs = {}, 0, []
    for name, arr in tensors.items():
        code = {"float32": "F32", "float64": "F64", "int64": "I64"}[arr.dtype.name]
        header[name] = {
            "dtype": code,
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + arr.nbytes],
        }
        offset += arr.nbytes
        blobs.append(arr.tobytes())
    raw = json.dumps(header).encode()
    raw += b" " * ((1 - len(raw)) % 8)  # length = 1 (mod 8): every data start is odd
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


def _is_misaligned(a):
    return a.ctypes.data % a.itemsize != 0 and not a.flags.aligned


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_misaligned_mmap_file_through_from_numpy_and_kernels(tmp_path, dtype):
    rng = np.random.default_rng(0)
    arrays = {
        "x": rng.standard_normal((2, 3, 9, 9)).astype(dtype),
        "w": rng.standard_normal((4, 3, 3, 3)).astype(dtype),
        "b": rng.standard_normal(4).astype(dtype),
        "fc": rng.standard_normal((5, 4 * 7 * 7)).astype(dtype),
        "t": np.array([1, 4], np.int64),
    }
    _misaligned_file(tmp_path / "odd.safetensors", arrays)
    got = load_file(tmp_path / "odd.safetensors", mmap=True)
    assert all(_is_misaligned(a) for a in got.values())
    x, w, b, fc = (dlx.from_numpy(got[k]) for k in ("x", "w", "b", "fc"))
    y = nn.functional.conv2d(x, w, b).relu().flatten(1)
    logits = nn.functional.linear(y, fc)
    loss = nn.functional.cross_entropy(logits, dlx.from_numpy(got["t"]))
    ref_y = reference.conv2d_forward(arrays["x"], arrays["w"], arrays["b"])
    ref_logits = np.maximum(ref_y, 0).reshape(2, -1) @ arrays["fc"].T
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(logits.numpy(), ref_logits, rtol=rtol, atol=rtol)
    ref_loss = reference.cross_entropy_forward(ref_logits, arrays["t"])[0]
    np.testing.assert_allclose(loss.item(), ref_loss, rtol=rtol)
    cols = _core.im2col(got["x"], 3)  # straight into the binding
    np.testing.assert_array_equal(cols, _core.im2col(np.array(got["x"]), 3))


def test_misaligned_int64_indices_and_targets_are_copied():
    buf = np.zeros(8 * 4 + 1, np.uint8)
    idx = buf[1:].view(np.int64)
    idx[:] = [0, 2, 1, 3]
    assert _is_misaligned(idx)
    logits = np.random.default_rng(1).standard_normal((4, 5))
    got = _core.cross_entropy_forward(logits, idx)
    expected = _core.cross_entropy_forward(logits, np.array(idx))
    np.testing.assert_array_equal(got[0], expected[0])
    gy = np.ones((1, 1, 2, 2))
    pool_idx = buf[1:].view(np.int64).reshape(1, 1, 2, 2)
    got = _core.max_pool2d_backward(gy, pool_idx, (1, 1, 4, 4))
    np.testing.assert_array_equal(
        got, _core.max_pool2d_backward(gy, np.array(pool_idx), (1, 1, 4, 4))
    )


def test_misaligned_in_place_arrays_are_refused():
    buf = np.zeros(4 * 10 + 1, np.uint8)
    param = buf[1:].view(np.float32)
    grad = np.ones(10, np.float32)
    with pytest.raises(ValueError, match=r"`param` must be aligned to its 4-byte items"):
        _core.sgd_step_(param, grad, lr=0.1)
    out = buf[1:].view(np.float32).reshape(2, 5)
    with pytest.raises(ValueError, match="`out` must be aligned"):
        _core.gemm(np.ones((2, 3), np.float32), np.ones((3, 5), np.float32), out=out)


# -- outputs that overlap inputs ------------------------------------------------------------
def test_gemm_refuses_out_overlapping_an_input():
    a = np.random.default_rng(0).standard_normal((4, 4))
    b = np.random.default_rng(1).standard_normal((4, 4))
    for out, name in ((a, "a"), (b, "b")):
        with pytest.raises(ValueError, match=rf"gemm: `out` must not share memory with `{name}`"):
            _core.gemm(a, b, out=out)
    big = np.zeros((8, 4))
    with pytest.raises(ValueError, match="must not share memory with `a`"):
        _core.gemm(big[2:6], b, out=big[4:8])  # partial overlap
    _core.gemm(big[:4], b, out=big[4:])  # disjoint halves of one buffer are fine
    np.testing.assert_allclose(big[4:], big[:4] @ b)


def test_optimizer_steps_refuse_aliased_buffers():
    p = np.ones(6, np.float32)
    g = np.full(6, 0.5, np.float32)
    m, v = np.zeros(6, np.float32), np.zeros(6, np.float32)
    with pytest.raises(ValueError, match="adam_step_: `param` must not share memory with `grad`"):
        _core.adam_step_(p, p, m, v, 1)
    with pytest.raises(ValueError, match="`exp_avg` must not share memory with `exp_avg_sq`"):
        _core.adam_step_(p, g, m, m, 1)
    with pytest.raises(ValueError, match="`grad` must not share memory with `momentum_buffer`"):
        _core.sgd_step_(p, g, g, lr=0.1, momentum=0.9)
    both = np.zeros(12, np.float32)
    _core.adam_step_(p, g, both[:6], both[6:], 1)  # two halves of one buffer are fine
    assert np.all(p < 1)


def test_batch_norm_refuses_running_stats_overlapping_other_arguments():
    x = np.random.default_rng(0).standard_normal((8, 3))
    stats = np.zeros(3)
    with pytest.raises(ValueError, match="`running_mean` must not share memory with `running_var`"):
        _core.batch_norm_forward(x, None, None, stats, stats, True, 0.1, 1e-5)
    with pytest.raises(ValueError, match="`running_mean` must not share memory with `input`"):
        _core.batch_norm_forward(x, None, None, x[0], np.ones(3), True, 0.1, 1e-5)
    # In evaluation mode the statistics are only read: the same array for both is fine.
    _core.batch_norm_forward(x, None, None, stats, np.ones(3), False, 0.1, 1e-5)


# -- sizes near INT64_MAX ---------------------------------------------------------------------
BIG = 2**63 - 1


@pytest.mark.parametrize(
    "call",
    [
        lambda: _core.col2im(np.zeros((1, 4, 1)), (1, 1, BIG, 2), 2, padding=1),
        lambda: _core.col2im(np.zeros((1, 4, 1)), (1, 1, BIG - 1, 2**40), 2, padding=2**30),
        lambda: _core.avg_pool2d_backward(np.zeros((1, 1, 1, 1)), (1, 1, BIG, 4), 2, padding=1),
        lambda: _core.avg_pool2d_backward(
            np.zeros((1, 1, 1, 1)), (1, 1, 4, BIG), (1, 3), padding=(0, 1)
        ),
        lambda: _core.avg_pool2d_backward(
            np.zeros((1, 1, 1, 1)), (1, 1, BIG, 4), 3, stride=2, padding=1, ceil_mode=True
        ),
    ],
)
def test_huge_sizes_raise_with_the_callers_numbers(call):
    with pytest.raises(ValueError, match="overflows 64-bit size arithmetic") as info:
        call()
    message = str(info.value)
    assert str(BIG) in message or str(BIG - 1) in message
    assert "-" not in message.split(":", 1)[1].replace("64-bit", "")  # no wrapped negative


def test_large_but_valid_sizes_still_compute():
    assert _core.avg_pool2d_backward(np.zeros((1, 1, 1, 2)), (1, 1, 2, 4), 2).shape == (1, 1, 2, 4)


# -- set_num_threads racing a parallel convolution -----------------------------------------------
def test_set_num_threads_racing_a_parallel_conv_leaves_a_consistent_count():
    x = np.random.default_rng(0).standard_normal((8, 16, 24, 24))
    w = np.random.default_rng(1).standard_normal((16, 16, 3, 3))
    old = dlx.get_num_threads()
    try:
        for trial in range(12):
            dlx.set_num_threads(2)
            stop = threading.Event()

            def convolve(stop=stop):
                while not stop.is_set():
                    _core.conv2d_forward(x, w, None, 1, 1)  # float64: im2col + serial BLAS

            worker = threading.Thread(target=convolve)
            worker.start()
            for k in range(40):
                dlx.set_num_threads(1 + (k + trial) % 2)
            final = 1 + trial % 2
            dlx.set_num_threads(final)
            stop.set()
            worker.join()
            assert dlx.get_num_threads() == final
            assert dlx.blas_info()["num_threads"] == final, f"trial {trial}"
    finally:
        dlx.set_num_threads(old)


# -- the column workspace stays within a budget per thread ------------------------------------
def test_banded_im2col_matches_the_reference():
    """Columns of 64 x 3 x 3 x 90 x 90 float64 (37 MB) exceed the 32 MB budget: bands."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 64, 180, 180))
    w = rng.standard_normal((8, 64, 3, 3)) / 24
    b = rng.standard_normal(8)
    args = {"stride": 2, "padding": 1}
    y = _core.conv2d_forward(x, w, b, **args)
    np.testing.assert_allclose(y, reference.conv2d_forward(x, w, b, **args), rtol=1e-10, atol=1e-10)
    gy = rng.standard_normal(y.shape)
    gx, gw, gb = _core.conv2d_backward(gy, x, w, **args)
    rx, rw, rb = reference.conv2d_backward(gy, x, w, **args)
    np.testing.assert_allclose(gx, rx, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(gw, rw, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(gb, rb, rtol=1e-10, atol=1e-9)


def test_banded_conv_is_bit_identical_for_any_thread_count():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 64, 180, 180))
    w = rng.standard_normal((8, 64, 3, 3))
    gy = rng.standard_normal((4, 8, 90, 90))
    old = dlx.get_num_threads()
    try:
        results = []
        for n in (1, 2):
            dlx.set_num_threads(n)
            results.append(_core.conv2d_backward(gy, x, w, stride=2, padding=1))
    finally:
        dlx.set_num_threads(old)
    for a, b in zip(*results, strict=True):
        np.testing.assert_array_equal(a, b)


_PEAK = """
import numpy as np, dlx
from dlx import _core

def peak_mb():  # VmHWM: this process's own peak RSS (ru_maxrss includes the parent's)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024

dlx.set_num_threads({threads})
x = np.ones((4, 32, 512, 512), np.float32)
w = np.ones((32, 32, 7, 7), np.float32)
before = peak_mb()
y = _core.conv2d_forward(x, w, None, 2, 3)  # stride 2: the im2col path, 1.6 GB of columns
print(peak_mb() - before, y.shape)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux /proc")
@pytest.mark.parametrize("threads", [1, 2])
def test_conv_column_memory_is_bounded_per_thread(tmp_path, threads):
    """Whole-image columns would be 1568 x 65536 float32 = 411 MB per thread."""
    code = textwrap.dedent(_PEAK.format(threads=threads))
    proc = subprocess.run(
        [sys.executable, "-P", "-c", code], check=True, cwd=tmp_path, capture_output=True, text=True
    )
    grown_mb = int(proc.stdout.split()[0])
    output_mb = 4 * 32 * 256 * 256 * 4 // 2**20  # 32 MB
    assert output_mb <= grown_mb < output_mb + threads * 32 + 40, proc.stdout
