"""Jacobian-vector products and friends over the engine, as ``torch.autograd.functional``.

Each function takes ``func`` and ``inputs`` (a Tensor or a tuple of Tensors; arrays are
accepted) and evaluates ``func(*inputs)`` on fresh leaves, so the caller's tensors are
never modified. ``create_graph=True`` keeps the results differentiable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dlx._autograd import TensorBase, make_tensor
from dlx._grad_mode import enable_grad
from dlx.autograd.engine import grad as _grad

__all__ = ["hessian", "hvp", "jacobian", "jvp", "vhp", "vjp"]


def _leaves(inputs: Any, create_graph: bool, who: str) -> tuple[bool, tuple[Any, ...]]:
    """(was a tuple, fresh float leaves that require grad)."""
    is_tuple = isinstance(inputs, tuple | list)
    items = tuple(inputs) if is_tuple else (inputs,)
    out = []
    for i, x in enumerate(items):
        if isinstance(x, TensorBase):
            t = x if create_graph and x.requires_grad else x.detach()
        else:
            t = make_tensor(np.asarray(x))
        if t.dtype.kind != "f":
            msg = f"{who}: `inputs[{i}]` must be a floating tensor, got dtype {t.dtype}"
            raise TypeError(msg)
        if not t.requires_grad:
            t = make_tensor(t.numpy(), True) if t is not x else t.detach().requires_grad_()
        out.append(t)
    return is_tuple, tuple(out)


def _outputs(out: Any, who: str) -> tuple[bool, tuple[Any, ...]]:
    is_tuple = isinstance(out, tuple | list)
    items = tuple(out) if is_tuple else (out,)
    for i, o in enumerate(items):
        if not isinstance(o, TensorBase):
            msg = f"{who}: `func` must return a Tensor or a tuple of Tensors; output {i} is {type(o).__name__}"
            raise TypeError(msg)
    return is_tuple, items


def _vectors(v: Any, like: tuple[Any, ...], name: str, who: str) -> tuple[Any, ...]:
    items = tuple(v) if isinstance(v, tuple | list) else (v,)
    if len(items) != len(like):
        msg = f"{who}: `{name}` must have {len(like)} entries, got {len(items)}"
        raise ValueError(msg)
    res = []
    for i, (a, t) in enumerate(zip(items, like, strict=True)):
        arr = a if isinstance(a, TensorBase) else make_tensor(np.asarray(a, dtype=t.dtype))
        if tuple(arr.shape) != tuple(t.shape):
            msg = f"{who}: `{name}[{i}]` must have shape {tuple(t.shape)}, got {tuple(arr.shape)}"
            raise ValueError(msg)
        res.append(arr)
    return tuple(res)


def _zeros_for_none(grads: tuple[Any, ...], like: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(
        make_tensor(np.zeros(t.shape, t.dtype)) if g is None else g
        for g, t in zip(grads, like, strict=True)
    )


def _pack(is_tuple: bool, items: tuple[Any, ...]) -> Any:
    return items if is_tuple else items[0]


def _detach(items: tuple[Any, ...], create_graph: bool) -> tuple[Any, ...]:
    return items if create_graph else tuple(t.detach() for t in items)


def vjp(
    func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False
) -> tuple[Any, Any]:
    """``(func(inputs), v^T J)``: the vector-Jacobian product (``v`` may be omitted for
    a scalar output)."""
    in_tuple, xs = _leaves(inputs, create_graph, "vjp")
    with enable_grad():
        out_tuple, outs = _outputs(func(*xs), "vjp")
        vs = None if v is None else _vectors(v, outs, "v", "vjp")
        grads = _grad(outs, xs, vs, create_graph=create_graph, allow_unused=True)
    grads = _zeros_for_none(grads, xs)
    return _pack(out_tuple, _detach(outs, create_graph)), _pack(
        in_tuple, _detach(grads, create_graph)
    )


def jvp(
    func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False
) -> tuple[Any, Any]:
    """``(func(inputs), J v)``: the Jacobian-vector product, by the double-vjp trick
    (differentiate ``u -> u^T J`` with respect to ``u``)."""
    _in_tuple, xs = _leaves(inputs, True, "jvp")
    vs = _vectors(v, xs, "v", "jvp") if v is not None else None
    if vs is None:
        if any(x.numpy().size != 1 for x in xs):
            msg = "jvp: `v` may be omitted only when every input has one element"
            raise ValueError(msg)
        vs = tuple(make_tensor(np.ones(x.shape, x.dtype)) for x in xs)
    with enable_grad():
        out_tuple, outs = _outputs(func(*xs), "jvp")
        us = tuple(make_tensor(np.zeros(o.shape, o.dtype), True) for o in outs)
        g = _grad(outs, xs, us, create_graph=True, allow_unused=True)
        pairs = [(gi, vi) for gi, vi in zip(g, vs, strict=True) if gi is not None]
        if not pairs:
            jv = tuple(make_tensor(np.zeros(o.shape, o.dtype)) for o in outs)
        else:
            jv = _grad(
                [p[0] for p in pairs],
                us,
                [p[1] for p in pairs],
                create_graph=create_graph,
                allow_unused=True,
            )
            jv = _zeros_for_none(jv, outs)
    return _pack(out_tuple, _detach(outs, create_graph)), _pack(
        out_tuple, _detach(jv, create_graph)
    )


def _scalar_output(out: Any, who: str) -> Any:
    if not isinstance(out, TensorBase) or out.numpy().size != 1:
        msg = f"{who}: `func` must return a single-element Tensor"
        raise ValueError(msg)
    return out


def vhp(
    func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False
) -> tuple[Any, Any]:
    """``(func(inputs), v^T H)`` for a scalar ``func``: the vector-Hessian product."""
    in_tuple, xs = _leaves(inputs, True, "vhp")
    vs = _vectors(v, xs, "v", "vhp") if v is not None else None
    if vs is None:
        if any(x.numpy().size != 1 for x in xs):
            msg = "vhp: `v` may be omitted only when every input has one element"
            raise ValueError(msg)
        vs = tuple(make_tensor(np.ones(x.shape, x.dtype)) for x in xs)
    with enable_grad():
        out = _scalar_output(func(*xs), "vhp")
        g = _grad(out, xs, create_graph=True, allow_unused=True)
        pairs = [(gi, vi) for gi, vi in zip(g, vs, strict=True) if gi is not None]
        if pairs and any(p[0].requires_grad for p in pairs):
            live = [p for p in pairs if p[0].requires_grad]
            h = _grad(
                [p[0] for p in live],
                xs,
                [p[1] for p in live],
                create_graph=create_graph,
                allow_unused=True,
            )
        else:
            h = (None,) * len(xs)
        h = _zeros_for_none(h, xs)
    return _detach((out,), create_graph)[0], _pack(in_tuple, _detach(h, create_graph))


def hvp(
    func: Callable[..., Any], inputs: Any, v: Any = None, create_graph: bool = False
) -> tuple[Any, Any]:
    """``(func(inputs), H v)`` for a scalar ``func`` (H is symmetric, so this is ``vhp``)."""
    return vhp(func, inputs, v, create_graph)


def jacobian(func: Callable[..., Any], inputs: Any, create_graph: bool = False) -> Any:
    """The Jacobian of ``func`` at ``inputs``, one row per output element.

    For one input and one output the result has shape ``out.shape + in.shape``; with
    tuples, a tuple (per output) of tuples (per input) of such blocks.
    """
    in_tuple, xs = _leaves(inputs, True, "jacobian")
    with enable_grad():
        out_tuple, outs = _outputs(func(*xs), "jacobian")
        blocks = []
        for o in outs:
            rows: list[list[Any]] = [[] for _ in xs]
            flat = o.reshape(-1)
            for k in range(flat.numpy().size):
                seed = np.zeros(flat.shape, flat.dtype)
                seed[k] = 1
                if o.requires_grad:
                    g = _grad(
                        flat,
                        xs,
                        make_tensor(seed),
                        retain_graph=True,
                        create_graph=create_graph,
                        allow_unused=True,
                    )
                else:
                    g = (None,) * len(xs)
                for j, (gj, x) in enumerate(zip(g, xs, strict=True)):
                    rows[j].append(make_tensor(np.zeros(x.shape, x.dtype)) if gj is None else gj)
            from dlx._ops.shape import stack

            per_in = []
            for j, x in enumerate(xs):
                if rows[j]:
                    blk = stack(rows[j]).reshape(*o.shape, *x.shape)
                else:
                    blk = make_tensor(np.zeros((*o.shape, *x.shape), x.dtype))
                per_in.append(blk if create_graph else blk.detach())
            blocks.append(tuple(per_in))
    if not in_tuple:
        blocks = [b[0] for b in blocks]
    return tuple(blocks) if out_tuple else blocks[0]


def hessian(func: Callable[..., Any], inputs: Any, create_graph: bool = False) -> Any:
    """The Hessian of a scalar ``func`` at ``inputs``: shape ``in.shape + in.shape`` for one
    input, a tuple of tuples of blocks for several."""
    in_tuple, xs = _leaves(inputs, True, "hessian")

    def gradient(*args: Any) -> Any:
        out = _scalar_output(func(*args), "hessian")
        g = _grad(out, args, create_graph=True, allow_unused=True)
        return _zeros_for_none(g, args)

    return jacobian(
        gradient if in_tuple else (lambda x: gradient(x)[0]),
        xs if in_tuple else xs[0],
        create_graph=create_graph,
    )
