"""Reverse-mode engine: iterative topological order, gradient accumulation, graph freeing.

A graph vertex is a :class:`~dlx.autograd.function.Function` instance (a node); its
``parents`` hold the producing node of each input, the leaf Tensor itself, or None. The
walk never recurses, so a chain of any depth works. Gradients are summed per node in a
buffer; leaves accumulate into ``.grad`` (in place when it already exists).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dlx.autograd.function import _FREED_MSG, Function
from dlx.tensor import Tensor

__all__ = ["backward", "grad"]


def _topo_order(roots: list[Function]) -> list[Function]:
    """Nodes reachable from ``roots``, every node after all of its consumers."""
    post: list[Function] = []
    seen: set[int] = set()
    stack: list[tuple[Function, bool]] = [(r, False) for r in roots]
    while stack:
        node, done = stack.pop()
        if done:
            post.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node._freed:
            raise RuntimeError(_FREED_MSG)
        node._check_versions()
        stack.append((node, True))
        for p in node.parents:
            if isinstance(p, Function) and id(p) not in seen:
                stack.append((p, False))
    post.reverse()
    return post


def _as_grad_array(g: object) -> np.ndarray:
    if isinstance(g, Tensor):
        return g.data
    return g if type(g) is np.ndarray else np.asarray(g)


def _root_grads(
    outputs: Sequence[Tensor], grad_outputs: Sequence[object] | None, what: str
) -> list[np.ndarray]:
    """Validated seed gradients, one per output (ones for scalar outputs)."""
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    if len(grad_outputs) != len(outputs):
        msg = f"`{what}` has {len(grad_outputs)} entries but there are {len(outputs)} outputs"
        raise ValueError(msg)
    seeds = []
    for i, (t, g) in enumerate(zip(outputs, grad_outputs, strict=True)):
        if not isinstance(t, Tensor):
            msg = f"output {i} must be a dlx.Tensor, got {type(t).__name__}"
            raise TypeError(msg)
        if not t._requires_grad:
            msg = f"element {i} of the outputs does not require grad and has no grad_fn"
            raise RuntimeError(msg)
        if g is None:
            if t.data.size != 1:
                msg = (
                    f"grad can be implicitly created only for scalar outputs, but output {i} "
                    f"has shape {t.shape}; pass a gradient of that shape"
                )
                raise RuntimeError(msg)
            g = np.ones(t.shape, dtype=t.dtype)
        else:
            g = _as_grad_array(g)
            if g.shape != t.shape:
                msg = f"`{what}[{i}]` has shape {g.shape} but output {i} has shape {t.shape}"
                raise ValueError(msg)
            if g.dtype != t.dtype:
                g = g.astype(t.dtype)
        seeds.append(g)
    return seeds


def _accumulate_leaf(leaf: Tensor, g: np.ndarray) -> None:
    """Leaf gradient contract: add into an existing ``.grad`` in place, else a new array."""
    if leaf._grad is None:
        leaf._grad = np.array(g, dtype=leaf.data.dtype, order="C")
    else:
        np.add(leaf._grad, g, out=leaf._grad, casting="same_kind")


def _run(
    outputs: Sequence[Tensor],
    seeds: list[np.ndarray],
    retain_graph: bool,
    targets: Sequence[Tensor] | None = None,
) -> dict[int, np.ndarray] | None:
    """Backpropagate ``seeds``; into leaves' ``.grad``, or captured for ``targets``."""
    buf: dict[Function, np.ndarray] = {}
    owned: set[int] = set()  # ids of buffer arrays this walk allocated (safe to add into)
    captured: dict[int, np.ndarray] | None = None
    capture_ids: set[int] = set()
    if targets is not None:
        captured = {}
        capture_ids = {id(t._node if t._node is not None else t) for t in targets}

    def send(key: Any, g: np.ndarray) -> None:
        if isinstance(key, Function):
            prev = buf.get(key)
            if prev is None:
                buf[key] = g
            elif id(prev) in owned:
                np.add(prev, g, out=prev)
            else:
                acc = prev + g
                owned.add(id(acc))
                buf[key] = acc
        elif captured is not None:
            if id(key) in capture_ids:
                prev = captured.get(id(key))
                captured[id(key)] = np.array(g, order="C") if prev is None else prev + g
        else:
            _accumulate_leaf(key, g)

    roots: list[Function] = []
    for t, g in zip(outputs, seeds, strict=True):
        send(t._node if t._node is not None else t, g)
        if t._node is not None:
            roots.append(t._node)
    order = _topo_order(roots)

    useful: set[int] | None = None
    if captured is not None:
        # Run only nodes from which a target is reachable (order lists consumers first).
        useful = set()
        for node in reversed(order):
            if any(
                p is not None and (id(p) in capture_ids or id(p) in useful) for p in node.parents
            ):
                useful.add(id(node))

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for node in order:
            g = buf.pop(node, None)  # type: ignore[arg-type]
            if g is not None and captured is not None and id(node) in capture_ids:
                captured[id(node)] = np.array(g, order="C")
            if g is None or (useful is not None and id(node) not in useful):
                if not retain_graph:
                    node._free()
                continue
            if node._retained is not None:
                holder = node._retained()
                if holder is not None:
                    _accumulate_leaf(holder, g)
            grads = type(node).backward(node, g)
            if not isinstance(grads, tuple):
                grads = (grads,)
            if len(grads) > len(node.parents):
                msg = (
                    f"{node.name()} returned {len(grads)} gradients for {len(node.parents)} inputs"
                )
                raise RuntimeError(msg)
            for p, gi in zip(node.parents, grads, strict=False):
                if p is None or gi is None:
                    continue
                gi = gi if type(gi) is np.ndarray else np.asarray(gi)
                if isinstance(p, Function):
                    shape, dtype = p._out_shape, p._out_dtype
                else:
                    shape, dtype = p.data.shape, p.data.dtype  # a leaf Tensor
                if gi.shape != shape:
                    msg = (
                        f"{node.name()} returned a gradient of shape {gi.shape} for an input "
                        f"of shape {shape}"
                    )
                    raise RuntimeError(msg)
                if gi.dtype != dtype:
                    gi = gi.astype(dtype)
                send(p, gi)
            if not retain_graph:
                node._free()
    return captured


def backward(
    tensors: Tensor | Sequence[Tensor],
    grad_tensors: object | Sequence[object] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate gradients of ``tensors`` into the ``.grad`` of the leaves they depend on.

    Parameters
    ----------
    tensors : Tensor or sequence of Tensor
        Outputs to differentiate.
    grad_tensors : array-like or sequence, optional
        Gradient with respect to each output; may be omitted for scalar outputs.
    retain_graph : bool, optional
        Keep the graph's saved arrays so backward can run through it again.
    create_graph : bool
        Higher-order gradients are not supported; True raises NotImplementedError.
    """
    if create_graph:
        msg = "create_graph=True (higher-order gradients) is not supported by dlx"
        raise NotImplementedError(msg)
    single = isinstance(tensors, Tensor)
    outputs: list[Tensor] = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    grads: Any = grad_tensors
    if grads is not None and (single or isinstance(grads, Tensor | np.ndarray)):
        grads = [grads]
    seeds = _root_grads(outputs, grads, "grad_tensors")
    _run(outputs, seeds, bool(retain_graph))


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: object | Sequence[object] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[np.ndarray | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, leaving every ``.grad`` alone.

    Parameters
    ----------
    outputs : Tensor or sequence of Tensor
        Differentiated outputs.
    inputs : Tensor or sequence of Tensor
        Tensors (leaves or intermediate results) that require grad.
    grad_outputs : array-like or sequence, optional
        Gradient with respect to each output; may be omitted for scalar outputs.
    retain_graph : bool, optional
        Keep the graph for another backward (default False).
    create_graph : bool
        Not supported; True raises NotImplementedError.
    allow_unused : bool
        Return None for inputs the outputs do not depend on instead of raising.

    Returns
    -------
    tuple of numpy.ndarray or None
        One gradient per input, with the input's shape and dtype.
    """
    if create_graph:
        msg = "create_graph=True (higher-order gradients) is not supported by dlx"
        raise NotImplementedError(msg)
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    gouts: Any = grad_outputs
    if gouts is not None and (
        isinstance(outputs, Tensor) or isinstance(gouts, Tensor | np.ndarray)
    ):
        gouts = [gouts]
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor):
            msg = f"`inputs[{i}]` must be a dlx.Tensor, got {type(t).__name__}"
            raise TypeError(msg)
        if not t._requires_grad:
            msg = f"`inputs[{i}]` does not require grad, so it has no gradient"
            raise RuntimeError(msg)
    seeds = _root_grads(outs, gouts, "grad_outputs")
    captured = _run(outs, seeds, bool(retain_graph), targets=ins)
    assert captured is not None
    result = []
    for i, t in enumerate(ins):
        g = captured.get(id(t._node if t._node is not None else t))
        if g is None and not allow_unused:
            msg = (
                f"`inputs[{i}]` was not used to compute the outputs; pass allow_unused=True "
                f"to get None for it"
            )
            raise RuntimeError(msg)
        result.append(g)
    return tuple(result)
