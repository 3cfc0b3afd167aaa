"""Helpers shared by the op modules: wrapping inputs, unwrapping values in backward.

Backward formulas see arrays in a plain backward and Tensors under ``create_graph``;
``value`` gives the array behind either (for masks and other piecewise-constant terms).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx import _dtype
from dlx._autograd import TensorBase, make_tensor, run_backward

__all__ = ["as_tensor", "c_contiguous", "composite_backward", "is_array", "value"]


def as_tensor(x: Any) -> Any:
    """``x`` if it is a Tensor, else a constant Tensor (dtype policy of ``dlx.tensor``)."""
    if isinstance(x, TensorBase):
        return x
    return make_tensor(_dtype.array_from(x, None, copy=False))


def value(x: Any) -> Any:
    """The array behind a Tensor (anything else unchanged)."""
    return x._data if isinstance(x, TensorBase) else x


def is_array(g: Any) -> bool:
    """True in a plain backward (arrays), False under ``create_graph`` (Tensors)."""
    return type(g) is np.ndarray


def c_contiguous(a: np.ndarray) -> np.ndarray:
    """``a`` itself when C-contiguous, else a C-ordered copy (kernels refuse strided arrays)."""
    return a if a.flags.c_contiguous else np.array(a, order="C")


def composite_backward(ctx: Any, composite: Any, inputs: tuple[Any, ...], grads: Any) -> Any:
    """Input gradients of a fused op under ``create_graph``, by differentiating its
    composite form.

    ``composite(*inputs)`` recomputes the op's output(s) from its inputs with ordinary
    dlx ops; it is differentiated (recording the graph) with respect to every input that
    needs a gradient, with ``grads`` as the output gradients. The kernels keep the plain
    backward; this path only runs for higher-order gradients, and tests check that the
    two agree (gradgradcheck differentiates the kernel's gradients numerically).
    """
    needs = ctx.needs_input_grad
    wanted = [i for i, t in enumerate(inputs) if needs[i] and isinstance(t, TensorBase)]
    result: list[Any] = [None] * len(needs)
    if not wanted:
        return tuple(result)
    out = composite(*inputs)
    outs = out if isinstance(out, tuple) else (out,)
    gs = grads if isinstance(grads, tuple) else (grads,)
    pairs = [(o, g) for o, g in zip(outs, gs, strict=True) if g is not None and o.requires_grad]
    if not pairs:
        return tuple(result)
    seeds = tuple(g if isinstance(g, TensorBase) else make_tensor(np.asarray(g)) for _, g in pairs)
    res = run_backward(  # the engine itself: dlx._ops sits below dlx.autograd
        tuple(p[0] for p in pairs), seeds, True, True, tuple(inputs[i] for i in wanted), False
    )
    assert res is not None
    for i, r in zip(wanted, res, strict=True):
        result[i] = r
    return tuple(result)
