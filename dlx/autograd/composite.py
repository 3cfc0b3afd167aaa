"""Double backward of fused ops by differentiating a composite form of their forward."""

from __future__ import annotations

from typing import Any

from dlx._autograd import TensorBase
from dlx.autograd.engine import grad

__all__ = ["composite_backward"]


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
    res = grad(
        [p[0] for p in pairs],
        [inputs[i] for i in wanted],
        grad_outputs=[p[1] for p in pairs],
        create_graph=True,
        allow_unused=True,
    )
    for i, r in zip(wanted, res, strict=True):
        result[i] = r
    return tuple(result)
