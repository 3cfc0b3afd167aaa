"""Gradient checking: analytic (backward) against central-difference gradients in float64."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dlx._grad_mode import no_grad
from dlx.autograd.engine import grad as _grad
from dlx.tensor import Tensor

__all__ = ["GradcheckError", "gradcheck"]


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree."""


def _as_outputs(out: Any) -> list[Tensor]:
    outs = list(out) if isinstance(out, tuple | list) else [out]
    for i, o in enumerate(outs):
        if not isinstance(o, Tensor):
            msg = f"gradcheck: `fn` must return a Tensor or a tuple of Tensors; output {i} is {type(o).__name__}"
            raise TypeError(msg)
    return [o for o in outs if o.dtype.kind == "f"]


def gradcheck(
    fn: Callable[..., Any],
    inputs: Tensor | Sequence[Any],
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
    args = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    checked = [i for i, t in enumerate(args) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        msg = "gradcheck: no input requires grad; pass float64 tensors with requires_grad=True"
        raise ValueError(msg)
    for i in checked:
        if args[i].dtype != np.float64:
            msg = (
                f"gradcheck: input {i} has dtype {args[i].dtype}, but central differences need "
                f"float64 inputs (create them with dtype=dlx.float64, or call .double())"
            )
            raise ValueError(msg)
    for name, v in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if not v >= 0 or (name == "eps" and v == 0):
            msg = f"gradcheck: `{name}` must be {'positive' if name == 'eps' else 'non-negative'}, got {v}"
            raise ValueError(msg)

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
        return float(sum(np.sum(o.data * w) for o, w in zip(res, weights, strict=True)))

    worst = None  # (ratio, input, index, analytic, numeric, tol)
    n_bad = n_total = 0
    for pos, i in enumerate(checked):
        x = args[i].data
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
