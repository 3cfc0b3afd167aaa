"""Convolution layer shapes from real networks: forward and forward+backward vs torch.

Run standalone for the compact table (torch/dlx per shape, batch 1, 16 and 100):

    python benchmarks/bench_conv_shapes.py [--batch 1,16,100] [--threads N] [--reps R]
                                           [--only SUBSTRING]

Batch-1 forward is also timed against onnxruntime when it (and onnx) are installed.
``benchmarks/run.py --suite conv_shapes`` runs the same shapes through the common harness
(batch 16, or 1 with ``--size small``).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Case, torch_or_none

from dlx import _core

# (name, c, h, w, o, k, stride, padding, groups); dilation 1.
SHAPES = [
    ("lenet c1 1->6 5x5 28 valid", 1, 28, 28, 6, 5, 1, 0, 1),
    ("lenet c2 6->16 5x5 12 valid", 6, 12, 12, 16, 5, 1, 0, 1),
    ("dlfs simple 1->30 5x5 28 valid", 1, 28, 28, 30, 5, 1, 0, 1),
    ("dlfs deep 1->16 3x3 28 p1", 1, 28, 28, 16, 3, 1, 1, 1),
    ("dlfs deep 16->16 3x3 28 p1", 16, 28, 28, 16, 3, 1, 1, 1),
    ("dlfs deep 16->32 3x3 14 p1", 16, 14, 14, 32, 3, 1, 1, 1),
    ("dlfs deep 32->32 3x3 14 p2", 32, 14, 14, 32, 3, 1, 2, 1),
    ("dlfs deep 32->64 3x3 8 p1", 32, 8, 8, 64, 3, 1, 1, 1),
    ("16->16 5x5 28 valid", 16, 28, 28, 16, 5, 1, 0, 1),
    ("16->16 5x5 28 p2", 16, 28, 28, 16, 5, 1, 2, 1),
    ("vgg 3->64 3x3 32 p1", 3, 32, 32, 64, 3, 1, 1, 1),
    ("vgg 64->128 3x3 16 p1", 64, 16, 16, 128, 3, 1, 1, 1),
    ("vgg 128->256 3x3 8 p1", 128, 8, 8, 256, 3, 1, 1, 1),
    ("resnet 16->16 3x3 32 p1", 16, 32, 32, 16, 3, 1, 1, 1),
    ("resnet 16->32 3x3 32 s2 p1", 16, 32, 32, 32, 3, 2, 1, 1),
    ("resnet 16->32 1x1 32 s2", 16, 32, 32, 32, 1, 2, 0, 1),
    ("resnet 32->32 3x3 16 p1", 32, 16, 16, 32, 3, 1, 1, 1),
    ("resnet 32->64 3x3 16 s2 p1", 32, 16, 16, 64, 3, 2, 1, 1),
    ("resnet 32->64 1x1 16 s2", 32, 16, 16, 64, 1, 2, 0, 1),
    ("resnet 64->64 3x3 8 p1", 64, 8, 8, 64, 3, 1, 1, 1),
    ("32->32 3x3 14 s2 p1", 32, 14, 14, 32, 3, 2, 1, 1),
    ("64->64 1x1 8", 64, 8, 8, 64, 1, 1, 0, 1),
    ("mobilenet dw 32 3x3 32 p1", 32, 32, 32, 32, 3, 1, 1, 32),
    ("mobilenet dw 64 3x3 32 s2 p1", 64, 32, 32, 64, 3, 2, 1, 64),
    ("mobilenet dw 128 3x3 16 p1", 128, 16, 16, 128, 3, 1, 1, 128),
    ("mobilenet pw 32->64 1x1 32", 32, 32, 32, 64, 1, 1, 0, 1),
    ("mobilenet pw 128->128 1x1 16", 128, 16, 16, 128, 1, 1, 0, 1),
    ("stem 3->64 7x7 s2 p3 64", 3, 64, 64, 64, 7, 2, 3, 1),
]


def _out(h: int, k: int, s: int, p: int) -> int:
    return (h + 2 * p - k) // s + 1


def _arrays(rng, n, c, h, w, o, k, s, p, g):
    x = rng.standard_normal((n, c, h, w), dtype=np.float32)
    wt = rng.standard_normal((o, c // g, k, k), dtype=np.float32)
    wt /= np.float32(np.sqrt(c // g * k * k))
    b = rng.standard_normal(o, dtype=np.float32)
    gy = rng.standard_normal((n, o, _out(h, k, s, p), _out(w, k, s, p)), dtype=np.float32)
    return x, wt, b, gy


def _impls(torch, x, wt, b, gy, s, p, g):
    """(forward impls, forward+backward impls), keyed by library."""
    fwd = {"dlx": lambda: _core.conv2d_forward(x, wt, b, s, p, 1, g)}

    def dlx_fb():
        _core.conv2d_forward(x, wt, b, s, p, 1, g)
        _core.conv2d_backward(gy, x, wt, s, p, 1, g)

    fb = {"dlx": dlx_fb}
    if torch is not None:
        tx = torch.from_numpy(x).requires_grad_()
        tw = torch.from_numpy(wt).requires_grad_()
        tb = torch.from_numpy(b).requires_grad_()
        tgy = torch.from_numpy(gy)
        conv = torch.nn.functional.conv2d

        def torch_fwd():
            with torch.no_grad():
                conv(tx, tw, tb, s, p, 1, g)

        def torch_fb():
            y = conv(tx, tw, tb, s, p, 1, g)
            torch.autograd.grad(y, (tx, tw, tb), tgy)

        fwd["torch"] = torch_fwd
        fb["torch"] = torch_fb
    return fwd, fb


def _onnx_session(x, wt, b, s, p, g):
    """An onnxruntime session running this one Conv, or None when not installed."""
    try:
        import onnx  # noqa: F401
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        return None
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], strides=[s, s], pads=[p] * 4, group=g)
    graph = helper.make_graph(
        [node],
        "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(wt, "w"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = _threads()
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return lambda: sess.run(None, {"x": x})


def _threads() -> int:
    import dlx

    return dlx.get_num_threads()


def cases(size: str):
    """Harness cases: every shape at batch 16 (batch 1 for size == "small")."""
    torch = torch_or_none()
    rng = np.random.default_rng(0)
    n = 1 if size == "small" else 16
    for name, c, h, w, o, k, s, p, g in SHAPES:
        x, wt, b, gy = _arrays(rng, n, c, h, w, o, k, s, p, g)
        flop = 2.0 * n * o * (c // g) * k * k * gy.shape[2] * gy.shape[3]
        fwd, fb = _impls(torch, x, wt, b, gy, s, p, g)
        yield Case(f"conv {name} n{n} fwd", fwd, work=(flop, "FLOP"))
        yield Case(f"conv {name} n{n} fwd+bwd", fb, work=(3 * flop, "FLOP"))


def _best(fn, reps: int, min_time: float = 0.02) -> float:
    """Best of `reps` timings, each the mean over >= min_time of calls."""
    fn()
    best = math.inf
    for _ in range(reps):
        calls, t0 = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            el = time.perf_counter() - t0
            if el >= min_time:
                break
        best = min(best, el / calls)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--batch", default="1,16,100")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", default="")
    args = ap.parse_args(argv)
    import dlx

    torch = torch_or_none()
    if args.threads is not None:
        dlx.set_num_threads(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)
    batches = [int(v) for v in args.batch.split(",")]
    info = dlx.cpu_info()
    print(
        f"# CPU {info['model']}, ISA level {info['capability']} (best {info['best']}), "
        f"dlx threads {dlx.get_num_threads()}, GEMM {info['gemm']}"
        + (
            f", torch {torch.__version__} threads {torch.get_num_threads()} "
            f"capability {torch.backends.cpu.get_cpu_capability()}"
            if torch is not None
            else ", torch not installed"
        )
    )
    cols = [f"n{n} {kind}" for n in batches for kind in ("fwd", "f+b")]
    has_ort = (
        _onnx_session(*_arrays(np.random.default_rng(0), 1, 1, 8, 8, 1, 3, 1, 1, 1)[:3], 1, 1, 1)
        is not None
    )
    if has_ort:
        cols.append("n1 fwd ort/dlx")
    print("| layer | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    rng = np.random.default_rng(0)
    logs: dict[str, list[float]] = {c: [] for c in cols}
    for name, c, h, w, o, k, s, p, g in SHAPES:
        if args.only and args.only not in name:
            continue
        row = []
        for n in batches:
            x, wt, b, gy = _arrays(rng, n, c, h, w, o, k, s, p, g)
            fwd, fb = _impls(torch, x, wt, b, gy, s, p, g)
            for kind, impls in (("fwd", fwd), ("f+b", fb)):
                t_dlx = _best(impls["dlx"], args.reps)
                if "torch" in impls:
                    ratio = _best(impls["torch"], args.reps) / t_dlx
                    logs[f"n{n} {kind}"].append(math.log(ratio))
                    row.append(f"{ratio:.2f} ({t_dlx * 1e3:.2f} ms)")
                else:
                    row.append(f"{t_dlx * 1e3:.2f} ms")
        if has_ort:
            x, wt, b, gy = _arrays(rng, 1, c, h, w, o, k, s, p, g)
            fwd, _ = _impls(None, x, wt, b, gy, s, p, g)
            run = _onnx_session(x, wt, b, s, p, g)
            ratio = _best(run, args.reps) / _best(fwd["dlx"], args.reps)
            logs["n1 fwd ort/dlx"].append(math.log(ratio))
            row.append(f"{ratio:.2f}")
        print(f"| {name} | " + " | ".join(row) + " |", flush=True)
    geo = [f"{math.exp(sum(v) / len(v)):.2f}" if v else "-" for v in logs.values()]
    print("| geometric mean | " + " | ".join(geo) + " |")
    print("# cells: torch/dlx (dlx time); > 1 means dlx is faster")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
