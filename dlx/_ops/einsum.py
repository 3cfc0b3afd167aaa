"""``einsum``: Einstein summation over ``np.einsum``, differentiable to any order.

The gradient of each operand is again an einsum: of the output gradient with the other
operands, into the operand's subscripts. A letter repeated within an operand (``"ii"``)
is renamed and tied back with an identity matrix; a letter summed within that operand
only is brought back with a vector of ones. Ellipses are expanded to letters, and size-1
dimensions broadcast (the operand is expanded first, so its gradient is summed back).
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np

from dlx import _dtype
from dlx._autograd import Function
from dlx._ops._common import as_tensor, value
from dlx._ops.shape import expand
from dlx._ops.unary import cast

__all__ = ["einsum"]

_LETTERS = string.ascii_letters


def _equation(eq: str, operands: list[Any]) -> tuple[list[str], str]:
    """Explicit subscripts per operand and for the output (ellipses expanded)."""
    eq = eq.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        msg = f"einsum: the equation has {len(terms)} operands but {len(operands)} were given"
        raise ValueError(msg)
    used = set(eq) - set(".,->")
    bad = used - set(_LETTERS)
    if bad:
        msg = f"einsum: subscripts must be letters, got {sorted(bad)} in {eq!r}"
        raise ValueError(msg)
    free = [c for c in _LETTERS if c not in used]
    n_ell = 0
    for t, x in zip(terms, operands, strict=True):
        if "..." in t:
            n_ell = max(n_ell, x.ndim - (len(t) - 3))
    ell = "".join(free[:n_ell])
    subs = []
    for i, (t, x) in enumerate(zip(terms, operands, strict=True)):
        if "..." in t:
            k = x.ndim - (len(t) - 3)
            if k < 0:
                msg = f"einsum: operand {i} has {x.ndim} dimensions, fewer than {t!r} names"
                raise ValueError(msg)
            t = t.replace("...", ell[n_ell - k :])
        if "." in t or len(t) != x.ndim:
            msg = f"einsum: subscripts {t!r} do not match operand {i} with {x.ndim} dimensions"
            raise ValueError(msg)
        subs.append(t)
    if arrow:
        out = rhs.replace("...", ell)
        if "." in out:
            msg = f"einsum: invalid output subscripts {rhs!r}"
            raise ValueError(msg)
        missing = set(out) - set("".join(subs))
        if missing or len(set(out)) != len(out):
            msg = f"einsum: output subscripts {rhs!r} must be distinct letters of the operands"
            raise ValueError(msg)
    else:
        counts = {c: "".join(subs).count(c) for c in set("".join(subs))}
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return subs, out


class Einsum(Function):
    __slots__ = ("out", "subs")
    double_backward = True

    @staticmethod
    def forward(ctx, *xs, subs, out):
        ctx.subs, ctx.out = subs, out
        ctx.save_for_backward(*xs)
        eq = ",".join(subs) + "->" + out
        return np.asarray(np.einsum(eq, *xs, optimize=len(xs) > 2))

    @staticmethod
    def backward(ctx, g):
        xs = ctx.saved_tensors
        subs, out = ctx.subs, ctx.out
        dt = value(g).dtype
        grads = []
        for i, need in enumerate(ctx.needs_input_grad):
            if not need:
                grads.append(None)
                continue
            others = [j for j in range(len(subs)) if j != i]
            avail = set(out).union(*(subs[j] for j in others))
            spare = iter(c for c in _LETTERS if c not in "".join(subs) + out)
            target, seen = [], set()
            terms, ops = [out] + [subs[j] for j in others], [g] + [xs[j] for j in others]
            shape = value(xs[i]).shape
            for pos, c in enumerate(subs[i]):
                if c in seen:  # a repeated letter: a fresh one, tied to it by the identity
                    r = next(spare)
                    terms.append(c + r)
                    ops.append(np.eye(shape[pos], dtype=dt))
                    target.append(r)
                    continue
                seen.add(c)
                target.append(c)
                if c not in avail:  # summed within this operand only: broadcast back
                    terms.append(c)
                    ops.append(np.ones(shape[pos], dtype=dt))
                    avail.add(c)
            grads.append(Einsum.apply(*ops, subs=terms, out="".join(target)))
        return tuple(grads)


def einsum(equation: str, *operands: Any) -> Any:
    """Einstein summation, e.g. ``einsum("bij,bjk->bik", a, b)``; operands may also be
    passed as one list. Size-1 dimensions broadcast, ``...`` names the remaining ones."""
    if not isinstance(equation, str):
        msg = f"einsum: `equation` must be a string, got {type(equation).__name__}"
        raise TypeError(msg)
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = tuple(operands[0])
    if not operands:
        msg = "einsum: at least one operand is required"
        raise ValueError(msg)
    xs = [as_tensor(x) for x in operands]
    subs, out = _equation(equation, xs)
    dt = xs[0].dtype
    for x in xs[1:]:
        dt = _dtype.binary_dtype(dt, x.dtype)
    xs = [x if x.dtype == dt else cast(x, dt) for x in xs]
    sizes: dict[str, int] = {}
    for s, x in zip(subs, xs, strict=True):
        for c, n in zip(s, x.shape, strict=True):
            m = sizes.get(c, 1)
            if n != 1 and m != 1 and n != m:
                msg = f"einsum: subscript {c!r} has sizes {m} and {n} in different operands"
                raise ValueError(msg)
            sizes[c] = max(m, n) if n != 1 else m
    for k, (s, x) in enumerate(zip(subs, xs, strict=True)):
        full = tuple(sizes[c] for c in s)
        if full != x.shape:
            xs[k] = expand(x, full)
    return Einsum.apply(*xs, subs=subs, out=out)
