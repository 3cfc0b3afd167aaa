"""Fuzz target: argument validation of every kernel in ``dlx._core``.

Each input picks a kernel and builds its arguments from its signature: arrays of random
dtype, shape (mostly sharing one base shape so that many calls get past the first
checks), strides, alignment and writeability; window pairs, counts, rates, flags, modes
and reductions, each now and then replaced by a hostile value (negative, 2**62, NaN, a
wrong type). The kernel must return or raise TypeError / ValueError (or MemoryError for a
size no machine has); a crash, another exception or a hang is a finding.
"""

from __future__ import annotations

import re

from _harness import main

MODULES = ["dlx._native"]
# Not argument validation: they change process-wide state or spawn threads.
_SKIP = {"set_num_threads", "set_gemm_backend", "_after_fork_child"}
_HUGE = [2**31, 2**40, 2**62, 2**63 - 1, -(2**63), 2**64, 2**70]
_PAIRS = {"kernel_size", "stride", "padding", "dilation"}
_FLOATS = {"lr", "alpha", "beta", "beta1", "beta2", "eps", "p", "momentum", "dampening",
           "weight_decay", "lr_decay", "rho", "negative_slope", "delta", "min_val",
           "max_val", "beta_", "threshold", "label_smoothing", "mu_product",
           "momentum_decay", "init"}  # fmt: skip
_STRINGS = {
    "mode": ["lstm", "gru", "rnn_tanh", "rnn_relu", "", "x" * 100],
    "reduction": ["mean", "sum", "none", "avg"],
    "approximate": ["none", "tanh", "erf"],
    "variance": ["softplus", "exp"],
}
_state: dict = {}


def _kernels():
    if "kernels" not in _state:
        from dlx import _core

        out = []
        for name in sorted(dir(_core)):
            fn = getattr(_core, name)
            doc = getattr(fn, "__doc__", None) or ""
            m = re.match(rf"{re.escape(name)}\((.*?)\) ->", doc)
            if name.startswith("__") or name in _SKIP or m is None:
                continue
            params = [p.split(":")[0].strip() for p in m.group(1).split(", ") if p]
            out.append((name, fn, params))
        _state["kernels"] = out
    return _state["kernels"]


def _array(fdp, base):
    import numpy as np

    dtypes = [np.float32, np.float64, np.int64, np.uint8, np.float16, np.bool_, np.int32,
              np.complex64]  # fmt: skip
    dtype = (
        dtypes[fdp.ConsumeIntInRange(0, 1)]
        if fdp.ConsumeProbability() < 0.8
        else (dtypes[fdp.ConsumeIntInRange(0, len(dtypes) - 1)])
    )
    shape = list(base)
    if fdp.ConsumeProbability() < 0.35:
        shape = [fdp.ConsumeIntInRange(0, 6) for _ in range(fdp.ConsumeIntInRange(0, 5))]
    elif shape and fdp.ConsumeProbability() < 0.2:
        shape[fdp.ConsumeIntInRange(0, len(shape) - 1)] += fdp.ConsumeIntInRange(-1, 1)
        shape = [max(d, 0) for d in shape]
    size = int(np.prod(shape)) if shape else 1
    values = np.frombuffer(fdp.ConsumeBytes(8 * size).ljust(8 * size, b"\0"), np.float64)
    arr = np.nan_to_num(values, nan=1.0, posinf=2.0, neginf=-2.0).reshape(shape) % 7
    if np.issubdtype(dtype, np.integer) and fdp.ConsumeProbability() < 0.3:
        arr = -arr  # negative indices / classes
    arr = np.asarray(arr).astype(dtype)  # 0-d stays an array (ufuncs give scalars)
    layout = fdp.ConsumeIntInRange(0, 9)
    if layout == 0 and arr.ndim >= 2:
        arr = arr.swapaxes(0, 1)  # not C-contiguous
    elif layout == 1 and arr.ndim >= 1:
        arr = np.repeat(arr, 2, axis=-1)[..., ::2]  # strided view
    elif layout == 2:
        raw = np.zeros(arr.nbytes + 1, np.uint8)  # misaligned by one byte
        arr = raw[1:].view(arr.dtype).reshape(arr.shape) if arr.nbytes else arr
    elif layout == 3:
        arr.flags.writeable = False
    return arr


def _scalar(fdp, name):
    if fdp.ConsumeProbability() < 0.1:
        return [None, "x", 1.5, True, [], (1, 2, 3), _HUGE[0]][fdp.ConsumeIntInRange(0, 6)]
    if name in _PAIRS or name == "input_shape":
        n = 4 if name == "input_shape" else 2
        vals = [fdp.ConsumeIntInRange(-1, 6) for _ in range(n)]
        if fdp.ConsumeProbability() < 0.1:
            vals[fdp.ConsumeIntInRange(0, n - 1)] = _HUGE[fdp.ConsumeIntInRange(0, len(_HUGE) - 1)]
        return tuple(vals) if name == "input_shape" or fdp.ConsumeBool() else vals[0]
    if name in _STRINGS:
        return _STRINGS[name][fdp.ConsumeIntInRange(0, len(_STRINGS[name]) - 1)]
    if name in _FLOATS:
        specials = [float("nan"), float("inf"), -1.0, 0.0, 1.0, 1e300]
        if fdp.ConsumeProbability() < 0.2:
            return specials[fdp.ConsumeIntInRange(0, len(specials) - 1)]
        return fdp.ConsumeFloatInRange(-0.5, 1.5)
    if fdp.ConsumeProbability() < 0.5:
        return fdp.ConsumeBool()
    if fdp.ConsumeProbability() < 0.1:
        return _HUGE[fdp.ConsumeIntInRange(0, len(_HUGE) - 1)]
    return fdp.ConsumeIntInRange(-2, 6)


_ARRAY_WORDS = ("input", "weight", "bias", "grad", "target", "indices", "mask", "param",
                "exp_avg", "sum", "avg", "buffer", "delta", "running", "log_probs", "cols",
                "output", "hx", "cx", "workspace", "save", "x", "a", "b", "out", "logits")  # fmt: skip


def _is_array_arg(name):
    return (
        name not in _PAIRS
        and name != "input_shape"
        and (name in ("a", "b", "out", "x") or any(w in name for w in _ARRAY_WORDS if len(w) > 2))
    )


def one_input(data: bytes) -> None:
    import atheris

    fdp = atheris.FuzzedDataProvider(data)
    kernels = _kernels()
    _name, fn, params = kernels[fdp.ConsumeIntInRange(0, len(kernels) - 1)]
    base = [fdp.ConsumeIntInRange(0, 5) for _ in range(fdp.ConsumeIntInRange(1, 4))]
    args = []
    for p in params:
        if p in ("weights", "biases", "relu"):  # dense_chain_forward's lists
            k = fdp.ConsumeIntInRange(0, 3)
            args.append([_array(fdp, base) if p != "relu" else fdp.ConsumeBool() for _ in range(k)])
        elif _is_array_arg(p) and fdp.ConsumeProbability() < 0.93:
            args.append(_array(fdp, base))
        elif _is_array_arg(p):
            args.append(None)
        else:
            args.append(_scalar(fdp, p))
    try:
        fn(*args)
    except (TypeError, ValueError, MemoryError):
        return


if __name__ == "__main__":
    main(one_input, MODULES)
