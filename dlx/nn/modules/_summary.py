"""``Module.summary``: a Keras-style table of layers, output shapes and parameter counts.

Shapes come from each layer's ``output_shape(input_shape)`` when it has one (no kernel
runs, so a VGG16 summary is instant); ``Sequential`` and ``Residual`` are walked child by
child; any other module falls back to one real forward on a zeros batch of size 1 under
``no_grad``, with forward hooks recording the shapes inside it. That zeros batch is capped
at ``MAX_FORWARD_ELEMENTS`` (a shape read from a hostile model file must not make
``python -m dlx summary`` allocate gigabytes).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from dlx._grad_mode import no_grad
from dlx._validation import as_int

if TYPE_CHECKING:
    from dlx.nn.modules.module import Module

MAX_FORWARD_ELEMENTS = 1 << 26  # 256 MB of float32 for the one-sample zeros batch
Row = tuple[str, str, Any, int]  # (name, type, output shape, own parameter count)


def _own_params(module: Module) -> int:
    return sum(p.numpy().size for p in module.parameters(recurse=False))


def _shape_of(out: Any) -> Any:
    if isinstance(out, tuple | list):
        return [_shape_of(o) for o in out]
    return tuple(getattr(out, "shape", ()))


def _forward_rows(
    module: Module, name: str, shape: tuple[int, ...], dtype: Any
) -> tuple[Any, list[Row]]:
    """Real forward on zeros; every module that holds parameters or has no children is a row."""
    from dlx.tensor import Tensor

    if math.prod(shape) > MAX_FORWARD_ELEMENTS:
        msg = (
            f"summary: {type(module).__name__} has no output_shape(), so the summary would run "
            f"it on a zeros input of shape {shape}, more than {MAX_FORWARD_ELEMENTS} elements; "
            "pass a smaller input shape"
        )
        raise ValueError(msg)

    rows: list[tuple[int, Row]] = []
    handles = []
    order = {id(m): i for i, (_, m) in enumerate(module.named_modules())}
    for sub, m in module.named_modules():
        if next(m.children(), None) is not None and not _own_params(m):
            continue
        full = f"{name}.{sub}" if name and sub else (name or sub or type(m).__name__)

        def hook(mod: Module, args: Any, out: Any, full: str = full) -> None:
            rows.append(
                (order[id(mod)], (full, type(mod).__name__, _shape_of(out), _own_params(mod)))
            )

        handles.append(m.register_forward_hook(hook))
    try:
        with no_grad():
            out = module(Tensor(np.zeros(shape, dtype=dtype)))
    finally:
        for h in handles:
            h.remove()
    seen: set[str] = set()
    result = []
    for _, row in rows:  # a module called twice is listed once, at its first call
        if row[0] not in seen:
            seen.add(row[0])
            result.append(row)
    return _shape_of(out), result


def _infer(module: Module, name: str, shape: Any, dtype: Any, rows: list[Row]) -> Any:
    from dlx.nn.modules.container import Residual, Sequential

    if isinstance(module, Sequential):
        for sub, child in module._modules.items():
            if child is not None:
                shape = _infer(child, f"{name}.{sub}" if name else sub, shape, dtype, rows)
        return shape
    if isinstance(module, Residual):
        start = len(rows)
        out = _infer(module.block, f"{name}.block" if name else "block", shape, dtype, rows)
        if module.shortcut is not None:
            _infer(module.shortcut, f"{name}.shortcut" if name else "shortcut", shape, dtype, rows)
        rows.insert(start, (name or "residual", "Residual", out, _own_params(module)))
        return out
    fn = getattr(module, "output_shape", None)
    if fn is not None and isinstance(shape, tuple):
        out = tuple(fn(shape))
        rows.append(
            (name or type(module).__name__, type(module).__name__, out, _own_params(module))
        )
        return out
    out, sub_rows = _forward_rows(module, name, shape, dtype)
    rows.extend(sub_rows)
    return out


def _fmt_shape(shape: Any) -> str:
    if isinstance(shape, list):
        return ", ".join(_fmt_shape(s) for s in shape)
    if not shape:
        return "()"
    return "(" + ", ".join(["None", *map(str, shape[1:])]) + ")"


def summary(model: Module, input_shape: Any, dtype: Any = np.float32) -> str:
    """The summary table of ``model`` for one sample of ``input_shape`` (batch excluded)."""
    if isinstance(input_shape, int):
        input_shape = (input_shape,)
    shape = (1, *(as_int(s, "input_shape") for s in input_shape))
    if min(shape) < 0:
        msg = f"summary: `input_shape` must hold non-negative sizes, got {tuple(input_shape)}"
        raise ValueError(msg)
    rows: list[Row] = []
    _infer(model, "", shape, np.dtype(dtype), rows)
    params = list(model.parameters())
    total = sum(p.numpy().size for p in params)
    trainable = sum(p.numpy().size for p in params if p.requires_grad)
    table = [(f"{n} ({t})", _fmt_shape(s), f"{c:,}") for n, t, s, c in rows]
    w0 = max([len("Layer (type)")] + [len(r[0]) for r in table]) + 2
    w1 = max([len("Output Shape")] + [len(r[1]) for r in table]) + 2
    w2 = max([len("Param #")] + [len(r[2]) for r in table])
    width = w0 + w1 + w2
    lines = [
        f'Model: "{type(model).__name__}"',
        "_" * width,
        f"{'Layer (type)':<{w0}}{'Output Shape':<{w1}}{'Param #':>{w2}}",
        "=" * width,
    ]
    lines += [f"{a:<{w0}}{b:<{w1}}{c:>{w2}}" for a, b, c in table]
    lines += [
        "=" * width,
        f"Total params: {total:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {total - trainable:,}",
        "_" * width,
    ]
    return "\n".join(lines)
