"""Gradient checking: analytic (backward) against central-difference gradients in float64.

``gradcheck`` checks first derivatives; ``gradgradcheck`` checks second derivatives by
running ``gradcheck`` on the function that returns the first-order gradients (computed
with ``create_graph=True``, as a function of the inputs and of the output weights).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dlx._autograd import TensorBase, make_tensor
from dlx._grad_mode import enable_grad, no_grad
from dlx.autograd.engine import grad as _grad

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck"]


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree."""


def _as_outputs(out: Any) -> list[Any]:
    outs = list(out) if isinstance(out, tuple | list) else [out]
    for i, o in enumerate(outs):
        if not isinstance(o, TensorBase):
            msg = f"gradcheck: `fn` must return a Tensor or a tuple of Tensors; output {i} is {type(o).__name__}"
            raise TypeError(msg)
    return [o for o in outs if o.dtype.kind == "f"]


def _checked_inputs(inputs: Any, who: str) -> tuple[tuple[Any, ...], list[int]]:
    args = (inputs,) if isinstance(inputs, TensorBase) else tuple(inputs)
    checked = [i for i, t in enumerate(args) if isinstance(t, TensorBase) and t.requires_grad]
    if not checked:
        msg = f"{who}: no input requires grad; pass float64 tensors with requires_grad=True"
        raise ValueError(msg)
    for i in checked:
        if args[i].dtype != np.float64:
            msg = (
                f"{who}: input {i} has dtype {args[i].dtype}, but central differences need "
                f"float64 inputs (create them with dtype=dlx.float64, or call .double())"
            )
            raise ValueError(msg)
    return args, checked


def _check_tolerances(who: str, eps: float, atol: float, rtol: float) -> None:
    for name, v in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if not v >= 0 or (name == "eps" and v == 0):
            msg = f"{who}: `{name}` must be {'positive' if name == 'eps' else 'non-negative'}, got {v}"
            raise ValueError(msg)


def gradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    *,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """Check the gradients of ``fn`` at ``inputs`` against central differences.

    The analytic side is one backward pass of ``sum_k sum(out_k * W_k)`` with fixed random
    weights ``W_k`` (every Jacobian entry takes part); the numeric side perturbs each
    element of each input that requires grad by ``+-eps``. An element passes when
    ``|analytic - numeric| <= atol + rtol * |numeric|``.

    Parameters
    ----------
    fn : callable
        Called as ``fn(*inputs)``; returns a Tensor or a tuple of Tensors.
    inputs : Tensor or sequence
        Arguments of ``fn``. Tensors with ``requires_grad=True`` are checked and must be
        float64; other arguments are passed through unchanged.
    eps, atol, rtol : float
        Perturbation and tolerances.
    raise_exception : bool
        Raise :class:`GradcheckError` on failure (default); otherwise return False.
    seed : int
        Seed of the random output weights.

    Returns
    -------
    bool
        True when every element is within tolerance.

    Raises
    ------
    GradcheckError
        Naming the worst element: input index, element index, analytic and numeric values.
    ValueError
        When no input requires grad, or a checked input is not float64.
    """
    args, checked = _checked_inputs(inputs, "gradcheck")
    _check_tolerances("gradcheck", eps, atol, rtol)
    outs = _as_outputs(fn(*args))
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal(o.shape) for o in outs]
    diff_idx = [k for k, o in enumerate(outs) if o.requires_grad]
    targets = [args[i] for i in checked]
    if diff_idx:
        analytic = _grad(
            [outs[k] for k in diff_idx],
            targets,
            grad_outputs=[weights[k] for k in diff_idx],
            allow_unused=True,
        )
    else:
        analytic = (None,) * len(targets)
    del outs

    def objective() -> float:
        with no_grad():
            res = _as_outputs(fn(*args))
        return float(sum(np.sum(o._data * w) for o, w in zip(res, weights, strict=True)))

    worst = None  # (ratio, input, index, analytic, numeric, tol)
    n_bad = n_total = 0
    for pos, i in enumerate(checked):
        x = args[i]._data
        a = analytic[pos]
        a = np.zeros(x.shape) if a is None else np.asarray(a, dtype=np.float64)
        num = np.empty(x.shape)
        for flat in range(x.size):
            idx = np.unravel_index(flat, x.shape)
            old = x[idx]
            x[idx] = old + eps
            fp = objective()
            x[idx] = old - eps
            fm = objective()
            x[idx] = old
            num[idx] = (fp - fm) / (2 * eps)
        err = np.abs(a - num)
        tol = atol + rtol * np.abs(num)
        bad = ~(err <= tol)  # nan counts as bad
        n_bad += int(bad.sum())
        n_total += x.size
        if bad.any():
            ratio = np.where(bad, np.nan_to_num(err / tol, nan=np.inf), -1.0)
            j = np.unravel_index(int(np.argmax(ratio)), x.shape)
            if worst is None or ratio[j] > worst[0]:
                worst = (ratio[j], i, j, a[j], num[j], tol[j])
    if worst is None:
        return True
    _, i, j, av, nv, tv = worst
    element = tuple(int(k) for k in j)
    msg = (
        f"gradcheck: gradients differ for input {i} at element {element}: analytic {av:.8g}, "
        f"numeric {nv:.8g} (|diff| {abs(av - nv):.3g} > atol + rtol*|numeric| = {tv:.3g}); "
        f"{n_bad} of {n_total} elements out of tolerance"
    )
    if raise_exception:
        raise GradcheckError(msg)
    return False


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    grad_outputs: Sequence[Any] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    *,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """Check second derivatives of ``fn`` at ``inputs`` against central differences.

    The first-order gradients of ``sum_k sum(out_k * v_k)`` with respect to the inputs are
    computed with ``create_graph=True``; ``gradcheck`` then differentiates them with
    respect to the inputs *and* the output weights ``v_k`` (random, or ``grad_outputs``).
    Both the double backward of every op and its agreement with the first-order backward
    are checked.

    Parameters
    ----------
    fn : callable
        Called as ``fn(*inputs)``; returns a Tensor or a tuple of Tensors.
    inputs : Tensor or sequence
        As for :func:`gradcheck` (float64 tensors with ``requires_grad=True`` are checked).
    grad_outputs : sequence of array_like, optional
        The output weights ``v_k``; random normal by default.
    eps, atol, rtol, raise_exception, seed
        As for :func:`gradcheck`.
    """
    args, checked = _checked_inputs(inputs, "gradgradcheck")
    _check_tolerances("gradgradcheck", eps, atol, rtol)
    with enable_grad():
        outs = [o for o in _as_outputs(fn(*args)) if o.requires_grad]
    if not outs:
        msg = "gradgradcheck: no output of `fn` requires grad"
        raise ValueError(msg)
    rng = np.random.default_rng(seed + 1)
    if grad_outputs is None:
        vs = [rng.standard_normal(o.shape) for o in outs]
    else:
        vs = [np.asarray(v, dtype=np.float64) for v in grad_outputs]
        if len(vs) != len(outs) or any(v.shape != o.shape for v, o in zip(vs, outs, strict=True)):
            msg = "gradgradcheck: `grad_outputs` must give one array of each output's shape"
            raise ValueError(msg)
    del outs
    v_tensors = [make_tensor(v.astype(np.float64), True) for v in vs]
    n = len(args)

    def first_order(*all_args: Any) -> tuple[Any, ...]:
        with enable_grad():
            res = [o for o in _as_outputs(fn(*all_args[:n])) if o.requires_grad]
            grads = _grad(
                res,
                [all_args[i] for i in checked],
                grad_outputs=list(all_args[n:]),
                create_graph=True,
                allow_unused=True,
            )
        return tuple(g for g in grads if g is not None)

    return gradcheck(
        first_order,
        (*args, *v_tensors),
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
        seed=seed,
    )
