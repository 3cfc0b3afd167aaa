"""The Optimizer base class: param groups over flat per-dtype buffers, fused steps.

Design
------
* **One flat buffer per dtype.** The optimiser copies the parameters it receives into one
  contiguous ``data`` buffer per dtype (float32 and/or float64), group after group, and
  rebinds each ``p.data`` to a view of it; gradients get a matching ``grad`` buffer and
  each non-None ``p.grad`` becomes a view. Every rule's state (``exp_avg``, ...) is a
  further flat buffer of the same layout. A param group is therefore one contiguous range
  of each buffer, and a step is one fused C++ kernel call (one OpenMP pass) per group and
  dtype. ``add_param_group`` appends to the buffers (reallocating them once).
* **Parameters** are dlx Tensors (``nn.Parameter``): their storage is rebound to views
  of the flat buffer, and ``p.grad`` is a Tensor viewing the flat grad buffer that
  backward accumulates into in place. Arrays held before the optimiser was built are no
  longer the parameters' storage afterwards. A step modifies the parameters in place, so
  it bumps their version counters: a graph that saved a parameter before the step
  refuses to backward through it afterwards (as PyTorch does).
* **Rebinding is detected.** If ``p.data`` or ``p.grad`` is rebound to other memory
  (``p.grad = None`` then a fresh gradient from backward, a loaded checkpoint ...),
  ``step()`` notices by identity, copies the array into the flat buffer and points the
  attribute back at its view. ``zero_grad(set_to_none=False)`` keeps the views (one
  memset, no copy at the next step); the default ``set_to_none=True`` follows PyTorch.
* **PyTorch semantics.** A parameter whose grad is None is skipped entirely (no decay, no
  state update). Each parameter has its own ``step``; the kernel runs over maximal runs of
  parameters that have grads and equal per-parameter scalars, normally one run per group.
  ``state_dict()`` has PyTorch's layout: ``{"state": {index: {...}}, "param_groups":
  [{hyper-parameters..., "params": [indices]}]}`` with NumPy arrays (copies) as state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import numpy as np

from dlx.optim import _validation as v
from dlx.optim._flat import FlatStore


class Optimizer:
    """Base class of dlx optimisers (see the module docstring for the buffer layout).

    Parameters
    ----------
    params : iterable
        Parameters, or dicts defining param groups (a ``"params"`` list plus any
        hyper-parameters overriding `defaults` for that group).
    defaults : dict
        Default hyper-parameters of every group.
    """

    # Per-parameter scalars a rule keeps (with initial values) and those it publishes in
    # state_dict(). "step" > 0 means the parameter has state.
    #: Whether ``step`` must be given a closure that re-evaluates the loss (L-BFGS);
    #: ``dlx.train.fit`` passes one when this is True.
    needs_closure: ClassVar[bool] = False
    _scalar_state: ClassVar[dict[str, float]] = {"step": 0}
    _public_scalars: ClassVar[tuple[str, ...]] = ("step",)

    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self._stores: dict[np.dtype, FlatStore] = {}
        self._ranges: list[list[tuple[FlatStore, int, int]]] = []
        self._where: list[tuple[FlatStore, int, int]] = []  # index -> (store, i, group)
        self._ids: dict[int, int] = {}  # id(param) -> index
        for group in v.param_groups(params):
            self.add_param_group(group)

    # --- hooks for the update rules -----------------------------------------------------
    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate (and normalise in place) a group's hyper-parameters."""

    def _state_buffers(self, group: dict[str, Any]) -> dict[str, float]:
        """Names of the flat state buffers the group's settings need, with initial values."""
        return {}

    def _run(
        self,
        group: dict[str, Any],
        param: np.ndarray,
        grad: np.ndarray,
        state: dict[str, np.ndarray],
        scalars: dict[str, float],
    ) -> dict[str, float]:
        """One fused kernel call on a run of parameters; return their updated scalars."""
        raise NotImplementedError

    # --- building -----------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyper-parameters (defaults fill the rest)."""
        index = len(self.param_groups)
        params = v.group_params(param_group, index)
        first = len(self._where)
        dtypes = [v.check_param(p, f"parameter {first + k}") for k, p in enumerate(params)]
        seen: dict[int, int] = {}
        for k, p in enumerate(params):
            earlier = self._ids.get(id(p), seen.get(id(p)))
            if earlier is not None:
                msg = (
                    f"parameter {first + k} appears more than once (it is parameter "
                    f"{earlier}); each parameter may be given to an optimiser only once, "
                    "within or across param groups"
                )
                raise ValueError(msg)
            seen[id(p)] = first + k
        for k, (p, dt) in enumerate(zip(params, dtypes, strict=True)):
            v.check_grad(p, dt, f"parameter {first + k}")
        group = {key: val for key, val in param_group.items() if key != "params"}
        for key, default in self.defaults.items():
            group.setdefault(key, default)
        self._check_group(group)
        group["params"] = params
        ranges: list[tuple[FlatStore, int, int]] = []
        where: list[Any] = [None] * len(params)
        for dt in dict.fromkeys(dtypes):
            ks = [k for k, d in enumerate(dtypes) if d == dt]
            if dt not in self._stores:
                self._stores[dt] = FlatStore(dt, self._scalar_state)
            store = self._stores[dt]
            lo, hi = store.append([params[k] for k in ks], [first + k for k in ks])
            ranges.append((store, lo, hi))
            for pos, k in enumerate(ks):
                where[k] = (store, lo + pos, index)
        self._ids.update(seen)
        self._where += where
        self._ranges.append(ranges)
        self.param_groups.append(group)

    # --- stepping -----------------------------------------------------------------------
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a grad; return closure() if a closure is given."""
        loss = closure() if closure is not None else None
        for group, ranges in zip(self.param_groups, self._ranges, strict=True):
            needed = self._state_buffers(group)
            for store, lo, hi in ranges:
                has_grad = store.sync(lo, hi)
                for i, j in store.runs(lo, hi, has_grad):
                    sl = store.span(i, j)
                    scalars = {k: col[i] for k, col in store.scalars.items()}
                    state = {n: store.buffer(n, fill)[sl] for n, fill in needed.items()}
                    if scalars["step"] == 0:  # first step of these parameters: fresh state
                        for n, fill in needed.items():
                            state[n].fill(fill)
                    new = self._run(group, store.data[sl], store.grad[sl], state, scalars)
                    for k, val in new.items():
                        store.scalars[k][i:j] = [val] * (j - i)
                    store.bump_versions(i, j)
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset gradients: to None (PyTorch's default) or to zero in one memset per dtype."""
        for store in self._stores.values():
            store.zero_grad(set_to_none)

    def flat_buffers(self) -> dict[np.dtype, tuple[np.ndarray, np.ndarray]]:
        """``{dtype: (data, grad)}`` flat buffers, rebound arrays synced in first.

        Regions of parameters whose grad is None hold stale values.
        """
        for store in self._stores.values():
            store.sync(0, len(store))
        return {dt: (s.data, s.grad) for dt, s in self._stores.items()}

    # --- state --------------------------------------------------------------------------
    @property
    def state(self) -> Mapping[Any, dict[str, Any]]:
        """Per-parameter state, ``optimizer.state[p]``: live views into the flat buffers."""
        return _StateView(self)

    def _param_state(self, index: int, copy: bool) -> dict[str, Any]:
        store, i, g = self._where[index]
        if store.scalars["step"][i] == 0:
            return {}
        sl, shape = store.span(i), store.shapes[i]
        out: dict[str, Any] = {}
        for k in self._public_scalars:
            val = store.scalars[k][i]
            out[k] = int(val) if k == "step" else float(val)
        for name in self._state_buffers(self.param_groups[g]):
            if name in store.state:
                arr = store.state[name][sl].reshape(shape)
                out[name] = arr.copy() if copy else arr
        return out

    def state_dict(self) -> dict[str, Any]:
        """PyTorch-layout state: ``{"state": {index: {...}}, "param_groups": [...]}`` (copies)."""
        state = {}
        for index in range(len(self._where)):
            st = self._param_state(index, copy=True)
            if st:
                state[index] = st
        groups, start = [], 0
        for group in self.param_groups:
            saved = {k: val for k, val in group.items() if k != "params"}
            saved["params"] = list(range(start, start + len(group["params"])))
            start += len(group["params"])
            groups.append(saved)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any], *, validate_hparams: bool = True) -> None:
        """Restore hyper-parameters and state saved by :meth:`state_dict`.

        Everything is checked before anything changes. The loaded hyper-parameters go
        through the constructor's checks (a NaN or negative ``lr`` from a damaged checkpoint
        raises ValueError naming the group and the argument); ``lr`` may be 0, where a
        schedule can legitimately end. ``validate_hparams=False`` restores them unchecked,
        for deliberate overrides.
        """
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
            msg = "`state_dict` must be a dict with `state` and `param_groups` keys"
            raise TypeError(msg)
        saved_groups = state_dict["param_groups"]
        if not isinstance(saved_groups, list) or not all(
            isinstance(g, dict) and isinstance(g.get("params"), list) for g in saved_groups
        ):
            msg = "`param_groups` must be a list of dicts, each with a `params` list"
            raise TypeError(msg)
        if not isinstance(state_dict["state"], Mapping):
            msg = f"`state` must be a dict, got {type(state_dict['state']).__name__}"
            raise TypeError(msg)
        if len(saved_groups) != len(self.param_groups):
            msg = (
                f"loaded state dict has {len(saved_groups)} parameter groups, the optimiser "
                f"has {len(self.param_groups)}"
            )
            raise ValueError(msg)
        index_of, new_groups, start = {}, [], 0
        for gi, (saved, group) in enumerate(zip(saved_groups, self.param_groups, strict=True)):
            if len(saved["params"]) != len(group["params"]):
                msg = (
                    f"loaded param group {gi} has {len(saved['params'])} parameters, the "
                    f"optimiser's has {len(group['params'])}"
                )
                raise ValueError(msg)
            for k, sid in enumerate(saved["params"]):
                index_of[sid] = start + k
            start += len(group["params"])
            loaded = {k: val for k, val in saved.items() if k != "params"}
            new_groups.append(self._checked_hparams(loaded, gi) if validate_hparams else loaded)
        staged = [
            self._stage(index_of, sid, st, new_groups) for sid, st in state_dict["state"].items()
        ]
        for store in self._stores.values():  # params absent from the dict have no state
            for name, default in self._scalar_state.items():
                store.scalars[name] = [default] * len(store)
        for store, i, arrays, scalars in staged:
            sl = store.span(i)
            for name, (arr, fill) in arrays.items():
                store.buffer(name, fill)[sl] = arr
            for k, val in scalars.items():
                store.scalars[k][i] = val
        for group, new in zip(self.param_groups, new_groups, strict=True):
            params = group["params"]
            group.clear()
            group.update(new)
            group["params"] = params

    def _checked_hparams(self, group: dict[str, Any], index: int) -> dict[str, Any]:
        """A loaded group's hyper-parameters after the constructor's checks (lr may be 0)."""
        missing = sorted(set(self.defaults) - set(group))
        if missing:
            msg = f"loaded param group {index} lacks the hyper-parameter(s) {missing}"
            raise ValueError(msg)
        probe = dict(group)
        lr = probe.get("lr")
        zero_lr = not isinstance(lr, bool) and isinstance(lr, int | float) and lr == 0
        if zero_lr:
            probe["lr"] = 1.0  # the end of a schedule; every other rule as in the constructor
        try:
            self._check_group(probe)
        except (TypeError, ValueError) as exc:
            msg = f"loaded param group {index} has an invalid hyper-parameter: {exc}"
            raise type(exc)(msg) from None
        if zero_lr:
            probe["lr"] = lr
        return probe

    def _stage(
        self, index_of: dict[Any, int], sid: Any, st: dict[str, Any], groups: list[dict[str, Any]]
    ) -> tuple[FlatStore, int, dict, dict]:
        """Check one parameter's saved state and convert it, touching nothing."""
        if sid not in index_of:
            msg = f"loaded state refers to parameter {sid!r}, which no loaded param group lists"
            raise ValueError(msg)
        store, i, g = self._where[index_of[sid]]
        scalars = {
            k: type(d)(float(np.asarray(st[k]))) if k in st else d
            for k, d in self._scalar_state.items()
        }
        needed = self._state_buffers(groups[g])
        if "step" not in st and any(n in st for n in needed):
            scalars["step"] = 1  # PyTorch's SGD keeps no step; a buffer means it has stepped
        arrays = {}
        if scalars["step"] != 0:
            for name, fill in needed.items():
                if name not in st:
                    msg = f"loaded state of parameter {sid!r} lacks `{name}`"
                    raise ValueError(msg)
                arr = np.asarray(st[name])
                if arr.size != store.span(i).stop - store.span(i).start:
                    msg = (
                        f"loaded `{name}` of parameter {sid!r} has shape {arr.shape}, the "
                        f"parameter has shape {store.shapes[i]}"
                    )
                    raise ValueError(msg)
                arrays[name] = (arr.reshape(-1).astype(store.dtype, copy=False), fill)
        return store, i, arrays, scalars

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for gi, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {gi}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join([*lines, ")"])


class _StateView(Mapping):
    """``optimizer.state``: parameter -> its state dict, keyed by identity."""

    def __init__(self, opt: Optimizer) -> None:
        self._opt = opt
        self._index = {id(store.params[i]): n for n, (store, i, _) in enumerate(opt._where)}

    def __getitem__(self, p: Any) -> dict[str, Any]:
        if id(p) not in self._index:
            raise KeyError(p)
        return self._opt._param_state(self._index[id(p)], copy=False)

    def __iter__(self) -> Iterator[Any]:
        opt = self._opt
        for n, (store, i, _) in enumerate(opt._where):
            if opt._param_state(n, copy=False):
                yield store.params[i]

    def __len__(self) -> int:
        return sum(1 for _ in self)
