"""Reverse-mode engine entry points: argument checks around the compiled walk.

The walk itself (``dlx._autograd.run_backward``) counts each node's consumers, runs a
node once all of its gradients have arrived, sums gradients per vertex without ever
writing into an array it does not own, and never recurses, so a chain of any depth works.
Leaves accumulate into ``.grad`` (in place when it exists) under a lock, so concurrent
backward passes into a shared leaf give the exact sum.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dlx._autograd import TensorBase, make_tensor, run_backward

__all__ = ["backward", "grad"]


def _tensors(x: Any, what: str) -> tuple[Any, ...]:
    items = (x,) if isinstance(x, TensorBase) else tuple(x)
    for i, t in enumerate(items):
        if not isinstance(t, TensorBase):
            msg = f"`{what}[{i}]` must be a dlx.Tensor, got {type(t).__name__}"
            raise TypeError(msg)
    return items


def _seeds(
    outputs: tuple[Any, ...], grad_outputs: Any, what: str, single: bool, graph: bool
) -> tuple[Any, ...]:
    """Validated seed gradients, one per output (ones for scalar outputs)."""
    if grad_outputs is None:
        grads: list[Any] = [None] * len(outputs)
    elif single or isinstance(grad_outputs, TensorBase | np.ndarray):
        grads = [grad_outputs]
    else:
        grads = list(grad_outputs)
    if len(grads) != len(outputs):
        msg = f"`{what}` has {len(grads)} entries but there are {len(outputs)} outputs"
        raise ValueError(msg)
    seeds = []
    for i, (t, g) in enumerate(zip(outputs, grads, strict=True)):
        if not t.requires_grad:
            msg = f"element {i} of the outputs does not require grad and has no grad_fn"
            raise RuntimeError(msg)
        if g is None:
            if t._data.size != 1:
                msg = (
                    f"grad can be implicitly created only for scalar outputs, but output {i} "
                    f"has shape {t.shape}; pass a gradient of that shape"
                )
                raise RuntimeError(msg)
            g = np.ones(t.shape, dtype=t.dtype)
        if isinstance(g, TensorBase):
            arr = g._data
        else:
            arr = g if type(g) is np.ndarray else np.asarray(g)
            g = None
        if arr.shape != t.shape:
            msg = f"`{what}[{i}]` has shape {arr.shape} but output {i} has shape {t.shape}"
            raise ValueError(msg)
        if graph:
            if g is None:
                g = make_tensor(arr)
            if arr.dtype != t.dtype:
                g = g.to(t.dtype)
            seeds.append(g)
        else:
            seeds.append(arr if arr.dtype == t.dtype else arr.astype(t.dtype))
    return tuple(seeds)


def backward(
    tensors: Any,
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: Any = None,
) -> None:
    """Accumulate gradients of ``tensors`` into the ``.grad`` of the leaves they depend on.

    Parameters
    ----------
    tensors : Tensor or sequence of Tensor
        Outputs to differentiate.
    grad_tensors : Tensor, array-like or sequence, optional
        Gradient with respect to each output; may be omitted for scalar outputs.
    retain_graph : bool, optional
        Keep the graph's saved values so backward can run through it again (default:
        ``create_graph``).
    create_graph : bool
        Record the backward pass, so the accumulated gradients can be differentiated.
    inputs : Tensor or sequence of Tensor, optional
        Accumulate only into these tensors (leaves or not) instead of every leaf.
    """
    single = isinstance(tensors, TensorBase)
    outputs = _tensors(tensors, "tensors")
    graph = bool(create_graph)
    seeds = _seeds(outputs, grad_tensors, "grad_tensors", single, graph)
    ins = None if inputs is None else _tensors(inputs, "inputs")
    if ins is not None and not ins:
        msg = "`inputs` must not be empty"
        raise ValueError(msg)
    retain = graph if retain_graph is None else bool(retain_graph)
    run_backward(outputs, seeds, retain, graph, ins, True)


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
    materialize_grads: bool = False,
) -> tuple[Any, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, leaving every ``.grad`` alone.

    Parameters
    ----------
    outputs : Tensor or sequence of Tensor
        Differentiated outputs.
    inputs : Tensor or sequence of Tensor
        Tensors (leaves or intermediate results) that require grad.
    grad_outputs : Tensor, array-like or sequence, optional
        Gradient with respect to each output; may be omitted for scalar outputs.
    retain_graph : bool, optional
        Keep the graph for another backward (default: ``create_graph``).
    create_graph : bool
        Record the backward pass, so the returned gradients can be differentiated again
        (Hessian-vector products, gradient penalties).
    allow_unused : bool
        Return None for inputs the outputs do not depend on instead of raising.
    materialize_grads : bool
        Return zeros instead of None for unused inputs (implies ``allow_unused``).

    Returns
    -------
    tuple of Tensor or None
        One gradient per input, with the input's shape and dtype.
    """
    single = isinstance(outputs, TensorBase)
    outs = _tensors(outputs, "outputs")
    ins = _tensors(inputs, "inputs")
    for i, t in enumerate(ins):
        if not t.requires_grad:
            msg = f"`inputs[{i}]` does not require grad, so it has no gradient"
            raise RuntimeError(msg)
    graph = bool(create_graph)
    seeds = _seeds(outs, grad_outputs, "grad_outputs", single, graph)
    retain = graph if retain_graph is None else bool(retain_graph)
    captured = run_backward(outs, seeds, retain, graph, ins, False)
    assert captured is not None  # accumulate=False always returns the gradients
    result = []
    for i, (t, g) in enumerate(zip(ins, captured, strict=True)):
        if g is None:
            if materialize_grads:
                result.append(make_tensor(np.zeros(t.shape, t.dtype)))
                continue
            if not allow_unused:
                msg = (
                    f"`inputs[{i}]` was not used to compute the outputs; pass allow_unused=True "
                    f"to get None for it"
                )
                raise RuntimeError(msg)
            result.append(None)
        else:
            result.append(g if isinstance(g, TensorBase) else make_tensor(g))
    return tuple(result)
