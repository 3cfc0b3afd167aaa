"""Regularisation and gradient utilities: L1/L2 penalties, max-norm, gradient clipping.

Conventions
-----------
- ``l1_penalty(params, weight) = weight * sum_p sum |p|``
- ``l2_penalty(params, weight) = weight / 2 * sum_p sum p**2`` (the ``1/2`` makes its
  gradient ``weight * p``, i.e. the same as SGD's ``weight_decay=weight``)

Both return differentiable 0-d Tensors to add to the loss. Every in-place helper here
(``clip_grad_norm_``, ``clip_grad_value_``, ``max_norm_``, ``vector_to_parameters``)
writes into the existing arrays and never rebinds ``.data`` or ``.grad``: an optimiser
keeps them as views of its flat buffers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from dlx._grad_mode import no_grad
from dlx._validation import shape_str
from dlx.tensor import Tensor

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "l1_penalty",
    "l2_penalty",
    "max_norm_",
    "parameters_to_vector",
    "vector_to_parameters",
]


def _tensors(parameters: Any, fn: str) -> list[Tensor]:
    """A list of Tensors from one Tensor, a Module or an iterable of Tensors."""
    if isinstance(parameters, Tensor):
        return [parameters]
    if hasattr(parameters, "parameters") and callable(parameters.parameters):
        return list(parameters.parameters())
    if not isinstance(parameters, Iterable):
        msg = f"{fn}: `parameters` must be a Tensor, a Module or an iterable of Tensors, got {type(parameters).__name__}"
        raise TypeError(msg)
    out = list(parameters)
    for p in out:
        if not isinstance(p, Tensor):
            msg = f"{fn}: `parameters` must hold Tensors, got {type(p).__name__}"
            raise TypeError(msg)
    return out


def _weight(weight: Any, fn: str) -> float:
    w = float(weight)
    if not w >= 0 or not math.isfinite(w):
        msg = f"{fn}: `weight` must be a finite non-negative number, got {weight}"
        raise ValueError(msg)
    return w


def l1_penalty(parameters: Any, weight: float) -> Tensor:
    """``weight * sum |p|`` over all ``parameters`` (a differentiable 0-d Tensor).

    Parameters
    ----------
    parameters : Tensor, Module or iterable of Tensors
        E.g. ``[m.weight for m in model.modules() if isinstance(m, nn.Linear)]`` to leave
        biases unpenalised.
    weight : float
        Non-negative coefficient.
    """
    w = _weight(weight, "l1_penalty")
    total: Any = 0.0
    for p in _tensors(parameters, "l1_penalty"):
        total = p.abs().sum() + total
    return total * w if isinstance(total, Tensor) else Tensor(np.float32(0.0))


def l2_penalty(parameters: Any, weight: float) -> Tensor:
    """``weight / 2 * sum p**2`` over all ``parameters`` (gradient ``weight * p``)."""
    w = _weight(weight, "l2_penalty")
    total: Any = 0.0
    for p in _tensors(parameters, "l2_penalty"):
        total = (p * p).sum() + total
    return total * (0.5 * w) if isinstance(total, Tensor) else Tensor(np.float32(0.0))


def _norm(a: np.ndarray, norm_type: float) -> float:
    """The ``norm_type``-norm of ``a`` in float64 (inf: max |a|)."""
    if a.size == 0:
        return 0.0
    if math.isinf(norm_type):
        return float(np.abs(a).max())
    if norm_type == 2.0:
        flat = a.reshape(-1).astype(np.float64, copy=False)
        return float(math.sqrt(np.dot(flat, flat)))
    return float(np.sum(np.abs(a, dtype=np.float64) ** norm_type) ** (1.0 / norm_type))


def clip_grad_norm_(
    parameters: Any,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale all gradients in place so their joint norm is at most ``max_norm``.

    The total norm is the ``norm_type``-norm of all gradients concatenated (``inf``: the
    largest absolute entry). When it exceeds ``max_norm`` each ``.grad`` is multiplied by
    ``max_norm / (total + 1e-6)``, as in PyTorch. Parameters without a gradient are skipped.

    Returns
    -------
    Tensor
        The total norm before clipping (0-d, float64 if any gradient is float64 else float32).

    Raises
    ------
    RuntimeError
        When ``error_if_nonfinite`` and the total norm is nan or inf.
    """
    fn = "clip_grad_norm_"
    params = _tensors(parameters, fn)
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not norm_type > 0:
        msg = f"{fn}: `norm_type` must be positive or inf, got {norm_type}"
        raise ValueError(msg)
    grads = [p.grad.numpy() for p in params if p.grad is not None]
    dtype = np.float64 if any(g.dtype == np.float64 for g in grads) else np.float32
    norms = [_norm(g, norm_type) for g in grads]
    if not norms:
        total = 0.0
    elif math.isinf(norm_type):
        total = max(norms)
    else:
        total = float(np.sum(np.asarray(norms) ** norm_type) ** (1.0 / norm_type))
    if error_if_nonfinite and not math.isfinite(total):
        msg = (
            f"{fn}: the total norm of order {norm_type} of the gradients is {total}; "
            f"pass error_if_nonfinite=False to clip anyway"
        )
        raise RuntimeError(msg)
    coef = max_norm / (total + 1e-6)
    if coef < 1.0 or math.isnan(coef):  # PyTorch: grads *= min(coef, 1); nan propagates
        with np.errstate(invalid="ignore", over="ignore"):  # inf * 0 -> nan, as in PyTorch
            for g in grads:
                np.multiply(g, g.dtype.type(coef), out=g)
        for p in params:
            if p.grad is not None:
                p.grad._bump_version()
    return Tensor(np.asarray(total, dtype=dtype))


def clip_grad_value_(parameters: Any, clip_value: float) -> None:
    """Clip every gradient entry to ``[-clip_value, clip_value]`` in place."""
    fn = "clip_grad_value_"
    c = float(clip_value)
    if not c >= 0:
        msg = f"{fn}: `clip_value` must be non-negative, got {clip_value}"
        raise ValueError(msg)
    for p in _tensors(parameters, fn):
        g = p.grad
        if g is not None:
            np.clip(g.numpy(), -c, c, out=g.numpy())
            g._bump_version()


def max_norm_(parameters: Any, max_norm: float, dim: int | None = None) -> None:
    """Renormalise each unit's incoming weight vector to norm <= ``max_norm``, in place.

    Apply after ``optimizer.step()`` (the max-norm constraint of dropout nets). For a
    weight of shape ``(out, *rest)`` (Linear ``(out, in)``, Conv ``(out, in, kh, kw)``) each
    slice ``w[i]`` (one unit's incoming weights, or one output filter) with L2 norm above
    ``max_norm`` is scaled to exactly ``max_norm``; smaller ones are left alone.

    Parameters
    ----------
    parameters : Tensor, Module or iterable of Tensors
        A Module contributes the ``weight`` of every submodule that has a >= 2-D weight
        (biases and 1-D norm parameters are not constrained); Tensors are used as given
        (1-D tensors count as one vector).
    max_norm : float
        Positive bound.
    dim : int, optional
        The unit axis kept separate (default 0, PyTorch's output axis). E.g. ``dim=1`` bounds
        the outgoing weights of each input unit of a Linear weight.
    """
    fn = "max_norm_"
    m = float(max_norm)
    if not m > 0:
        msg = f"{fn}: `max_norm` must be positive, got {max_norm}"
        raise ValueError(msg)
    if hasattr(parameters, "modules") and callable(parameters.modules):
        params = [
            w
            for mod in parameters.modules()
            if isinstance(w := getattr(mod, "weight", None), Tensor) and w.ndim >= 2
        ]
    else:
        params = _tensors(parameters, fn)
    d = 0 if dim is None else int(dim)
    with no_grad():
        for p in params:
            a = p.numpy()
            if a.ndim == 0 or a.size == 0:
                continue
            if a.ndim == 1:
                axes: tuple[int, ...] = (0,)
            else:
                if not -a.ndim <= d < a.ndim:
                    msg = f"{fn}: `dim` must be in [{-a.ndim}, {a.ndim}) for a weight of shape {shape_str(a.shape)}, got {d}"
                    raise ValueError(msg)
                axes = tuple(i for i in range(a.ndim) if i != d % a.ndim)
            norms = np.sqrt(np.sum(np.square(a, dtype=np.float64), axis=axes, keepdims=True))
            scale = np.where(norms > m, m / np.maximum(norms, 1e-300), 1.0).astype(a.dtype)
            p.mul_(scale)


def parameters_to_vector(parameters: Any) -> Tensor:
    """All parameters flattened and concatenated into one new 1-D Tensor (a copy)."""
    params = _tensors(parameters, "parameters_to_vector")
    if not params:
        return Tensor(np.zeros(0, dtype=np.float32))
    return Tensor(np.concatenate([p.numpy().reshape(-1) for p in params]))


def vector_to_parameters(vec: Any, parameters: Any) -> None:
    """Copy slices of the 1-D ``vec`` into the parameters, in order, in place."""
    fn = "vector_to_parameters"
    v = vec.numpy() if isinstance(vec, Tensor) else np.asarray(vec)
    params = _tensors(parameters, fn)
    total = sum(p.numpy().size for p in params)
    if v.ndim != 1 or v.size != total:
        msg = f"{fn}: `vec` must be 1-D with {total} elements (the parameters' total), got shape {shape_str(v.shape)}"
        raise ValueError(msg)
    i = 0
    with no_grad():
        for p in params:
            n = p.numpy().size
            p.copy_(v[i : i + n].reshape(p.shape))
            i += n
