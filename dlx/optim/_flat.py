"""Flat parameter storage: one contiguous buffer per dtype for data, grads and state.

A :class:`FlatStore` owns the parameters of one dtype, back to back in the order the
optimiser received them (group after group, so each group is one contiguous range). It
rebinds every parameter's storage to a view of ``store.data`` and every non-None
``p.grad`` to a Tensor viewing ``store.grad``; ops read a tensor's storage at call time
and backward accumulates into an existing ``p.grad`` in place, so those views stay
connected. When a user (or ``zero_grad(set_to_none=True)``) rebinds ``p.data``/``p.grad``
to other memory, :meth:`FlatStore.sync` notices (identity check against the views), copies
the values into the buffer and points the parameter back at the view.

Optimiser state (``exp_avg``, ...) lives in further flat buffers of the same layout,
allocated on first use. Per-parameter scalars (``step``, NAdam's ``mu_product``) are kept
in Python lists; :meth:`FlatStore.runs` splits a group's range into maximal runs of
parameters that have a grad and share those scalars (usually one run), and each run is one
fused kernel call.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from dlx._autograd import make_tensor


class FlatStore:
    """Data, grad and state buffers of all parameters of one dtype."""

    def __init__(self, dtype: np.dtype, scalar_defaults: dict[str, float]) -> None:
        self.dtype = np.dtype(dtype)
        self.scalar_defaults = dict(scalar_defaults)
        self.params: list[Any] = []
        self.labels: list[int] = []
        self.offsets: list[int] = [0]
        self.shapes: list[tuple[int, ...]] = []
        self.data = np.empty(0, self.dtype)
        self.grad = np.zeros(0, self.dtype)
        self.state: dict[str, np.ndarray] = {}
        self.state_fill: dict[str, float] = {}
        self.scalars: dict[str, list[float]] = {k: [] for k in scalar_defaults}
        self.data_views: list[np.ndarray] = []
        self.grad_views: list[np.ndarray] = []
        self.grad_tensors: list[Any] = []  # Tensors around grad_views (what p.grad holds)

    def __len__(self) -> int:
        return len(self.params)

    @property
    def numel(self) -> int:
        return self.offsets[-1]

    def span(self, i: int, j: int | None = None) -> slice:
        """Element range of parameters i .. j-1 (i alone when j is None) in the flat buffers."""
        return slice(self.offsets[i], self.offsets[i + 1 if j is None else j])

    # --- building -----------------------------------------------------------------
    def append(self, params: list[Any], labels: list[int]) -> tuple[int, int]:
        """Add parameters at the end (reallocating every buffer); return their index range.

        `labels` are the parameters' positions in the optimiser, used in error messages.
        """
        self.sync(0, len(self.params))
        lo = len(self.params)
        shapes = [tuple(p._data.shape) for p in params]
        grads = [
            None if p.grad is None else self._checked(p.grad._data, s, lab, "grad")
            for p, s, lab in zip(params, shapes, labels, strict=True)
        ]
        sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
        offsets = [int(o) for o in np.cumsum([self.numel, *sizes])]
        old, total = self.numel, offsets[-1]
        data, grad = np.empty(total, self.dtype), np.zeros(total, self.dtype)
        data[:old] = self.data
        grad[:old] = self.grad
        for k, (p, g) in enumerate(zip(params, grads, strict=True)):
            data[offsets[k] : offsets[k + 1]] = p._data.reshape(-1)
            if g is not None:
                grad[offsets[k] : offsets[k + 1]] = g.reshape(-1)
        for name, buf in self.state.items():
            new = np.full(total, self.state_fill[name], self.dtype)
            new[:old] = buf
            self.state[name] = new
        had_grad = [p.grad is not None for p in self.params] + [g is not None for g in grads]
        self.params += params
        self.labels += labels
        self.offsets += offsets[1:]
        self.shapes += shapes
        for name, default in self.scalar_defaults.items():
            self.scalars[name] += [default] * len(params)
        self.data, self.grad = data, grad
        self.data_views = [data[self.span(i)].reshape(s) for i, s in enumerate(self.shapes)]
        self.grad_views = [grad[self.span(i)].reshape(s) for i, s in enumerate(self.shapes)]
        self.grad_tensors = [make_tensor(v) for v in self.grad_views]
        for i, p in enumerate(self.params):
            p._data = self.data_views[i]
            if had_grad[i]:
                p.grad = self.grad_tensors[i]
        return lo, len(self.params)

    def buffer(self, name: str, fill: float) -> np.ndarray:
        """The flat state buffer `name`, allocated (filled with `fill`) on first use."""
        buf = self.state.get(name)
        if buf is None:
            buf = self.state[name] = np.full(self.numel, fill, self.dtype)
            self.state_fill[name] = fill
        return buf

    # --- keeping the views connected -------------------------------------------------
    def _checked(self, arr: Any, shape: tuple[int, ...], label: int, what: str) -> np.ndarray:
        """`arr` as an array of `shape` and the store's dtype (ValueError / TypeError otherwise)."""
        a = arr if isinstance(arr, np.ndarray) else np.asarray(arr)
        if a.shape != shape:
            msg = f"parameter {label} was given a `{what}` of shape {a.shape}, expected {shape}"
            raise ValueError(msg)
        if a.dtype != self.dtype:
            msg = (
                f"parameter {label} was given a `{what}` of dtype {a.dtype}, expected "
                f"{self.dtype} (an optimiser keeps each parameter's dtype; build a new one "
                "after converting a model)"
            )
            raise TypeError(msg)
        return a

    def sync(self, lo: int, hi: int) -> list[bool]:
        """Re-attach rebound data/grad arrays of parameters lo .. hi-1; return which have a grad."""
        has_grad = []
        for i in range(lo, hi):
            p = self.params[i]
            d = p._data
            if d is not self.data_views[i]:
                self.data_views[i][...] = self._checked(d, self.shapes[i], self.labels[i], "data")
                p._data = self.data_views[i]
            g = p.grad
            if g is None:
                has_grad.append(False)
                continue
            if g is not self.grad_tensors[i]:
                if g._data is not self.grad_views[i]:
                    self.grad_views[i][...] = self._checked(
                        g._data, self.shapes[i], self.labels[i], "grad"
                    )
                p.grad = self.grad_tensors[i]
            has_grad.append(True)
        return has_grad

    def bump_versions(self, lo: int = 0, hi: int | None = None) -> None:
        """Count an in-place change of parameters lo .. hi-1 (all by default): a graph that
        saved them before refuses to backward afterwards."""
        for p in self.params[lo:hi]:
            p._bump_version()

    def zero_grad(self, set_to_none: bool) -> None:
        """Drop every grad (set_to_none) or zero the flat grad buffer in one memset."""
        if set_to_none:
            for p in self.params:
                p.grad = None
            return
        self.grad.fill(0)
        for i, p in enumerate(self.params):
            g = p.grad
            if g is not None and g is not self.grad_tensors[i]:
                p.grad = self.grad_tensors[i]

    # --- runs of parameters stepped by one kernel call -------------------------------
    def runs(self, lo: int, hi: int, has_grad: list[bool]) -> Iterator[tuple[int, int]]:
        """Maximal [i, j) within [lo, hi) whose parameters have grads and equal scalars."""
        cols = list(self.scalars.values())
        i = lo
        while i < hi:
            if not has_grad[i - lo]:
                i += 1
                continue
            key = [c[i] for c in cols]
            j = i + 1
            while j < hi and has_grad[j - lo] and [c[j] for c in cols] == key:
                j += 1
            yield i, j
            i = j
