"""Module backward hooks (``register_full_backward_hook`` / ``..._pre_hook``), PyTorch's way:
the module's tensor inputs and outputs pass through identity nodes, so the engine hands
over the gradients with respect to the outputs and then those with respect to the inputs.
"""

from __future__ import annotations

from typing import Any

from dlx._autograd import Function, TensorBase, is_grad_enabled, make_tensor


class _State:
    """What one call of the module shares between its two identity nodes."""

    def __init__(self, module: Any, n_inputs: int) -> None:
        self.module = module
        self.n_inputs = n_inputs
        self.grad_outputs: tuple[Any, ...] | None = None


def _wrap(g: Any) -> Any:
    return None if g is None else (g if isinstance(g, TensorBase) else make_tensor(g))


def _unwrap(g: Any, like: Any) -> Any:
    if g is None or (not isinstance(like, TensorBase) and not isinstance(g, TensorBase)):
        return g
    return g if isinstance(like, TensorBase) else g.numpy()


class _Outputs(Function):
    """Identity on the outputs: records their gradients and runs the pre-hooks."""

    double_backward = True

    @staticmethod
    def forward(ctx, *xs, state):
        ctx.state = state
        return xs

    @staticmethod
    def backward(ctx, *grads):
        st = ctx.state
        m = st.module
        gs = tuple(_wrap(g) for g in grads)
        for hook in list(m._backward_pre_hooks.values()):
            res = hook(m, gs)
            if res is not None:
                gs = tuple(res) if isinstance(res, tuple | list) else (res,)
        st.grad_outputs = gs
        if st.n_inputs == 0:  # no input needs a gradient: the hooks run now, as in PyTorch
            _run_hooks(st, ())
        return tuple(_unwrap(g, grads[0]) for g in gs)


class _Inputs(Function):
    """Identity on the inputs: hands their gradients to the full backward hooks."""

    double_backward = True

    @staticmethod
    def forward(ctx, *xs, state):
        ctx.state = state
        return xs

    @staticmethod
    def backward(ctx, *grads):
        gs = _run_hooks(ctx.state, tuple(_wrap(g) for g in grads))
        return tuple(_unwrap(g, grads[0]) for g in gs)


def _run_hooks(st: _State, grad_inputs: tuple[Any, ...]) -> tuple[Any, ...]:
    m = st.module
    for hook in list(m._backward_hooks.values()):
        res = hook(m, grad_inputs if grad_inputs else (None,), st.grad_outputs)
        if res is not None and grad_inputs:
            grad_inputs = tuple(res) if isinstance(res, tuple | list) else (res,)
    return grad_inputs


def call_with_backward_hooks(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``module.forward(*args, **kwargs)`` with the inputs and outputs routed through the
    identity nodes (only when grad mode is on; otherwise no gradient will arrive)."""
    if not is_grad_enabled():
        return module.forward(*args, **kwargs)
    pos = [i for i, a in enumerate(args) if isinstance(a, TensorBase) and a.requires_grad]
    state = _State(module, len(pos))
    if pos:
        wrapped = _Inputs.apply(*[args[i] for i in pos], state=state)
        new_args = list(args)
        for i, w in zip(pos, wrapped, strict=True):
            new_args[i] = w
        args = tuple(new_args)
    out = module.forward(*args, **kwargs)
    single = isinstance(out, TensorBase)
    outs = (out,) if single else tuple(out) if isinstance(out, tuple | list) else None
    if outs is None:
        return out
    idx = [i for i, o in enumerate(outs) if isinstance(o, TensorBase) and o.requires_grad]
    if not idx:
        return out
    routed = _Outputs.apply(*[outs[i] for i in idx], state=state)
    new = list(outs)
    for i, r in zip(idx, routed, strict=True):
        new[i] = r
    if single:
        return new[0]
    return type(out)(new) if isinstance(out, list) else tuple(new)
