"""Training checkpoints: model, optimiser, scheduler, progress and RNG states in ONE file.

The file is safetensors, written atomically (:func:`dlx.io.atomic_write`): every array
(weights, optimiser buffers) is a tensor, everything else is JSON in the metadata under
``"dlx-checkpoint"``::

    {"format": "dlx-checkpoint", "version": 1, "epoch": next epoch, "step": steps,
     "optimizer": {...}, "scheduler": {...}, "rng": {...}, "loader": {...},
     "history": {...}, "callbacks": [...], "extra": {...}}

Arrays inside the optimiser state are replaced in the JSON by ``{"__tensor__": name}``.
Nothing is unpickled or evaluated when loading.
"""

from __future__ import annotations

import json
import os
from typing import Any, NoReturn

import numpy as np

from dlx import _random
from dlx.io import SafetensorsError, load_file, read_metadata, save_file

FORMAT = "dlx-checkpoint"
VERSION = 1
_MODEL = "model."
_OPTIM = "optimizer."
_BIT_GENERATORS = ("MT19937", "PCG64", "PCG64DXSM", "Philox", "SFC64")


def save_checkpoint(
    path: str | os.PathLike[str],
    model: Any,
    optimizer: Any = None,
    scheduler: Any = None,
    *,
    epoch: int = 0,
    step: int = 0,
    loader: Any = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write a training checkpoint to ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination (a safetensors file).
    model : dlx.nn.Module
        Its ``state_dict()`` (parameters and buffers, PyTorch key names).
    optimizer, scheduler : optional
        Their ``state_dict()``; scheduler attributes that are functions are skipped.
    epoch, step : int
        The next epoch to run and the optimiser steps taken.
    loader : DataLoader, optional
        Its shuffling state.
    extra : dict, optional
        Any JSON-serialisable data (e.g. ``{"history": ..., "callbacks": ...}``).

    Notes
    -----
    The RNG states of dlx's default generator and NumPy's global generator are saved too.
    """
    tensors: dict[str, np.ndarray] = {
        _MODEL + k: np.asarray(v) for k, v in model.state_dict().items()
    }
    meta: dict[str, Any] = {"format": FORMAT, "version": VERSION, "epoch": int(epoch)}
    meta["step"] = int(step)
    if optimizer is not None:
        meta["optimizer"] = _flatten(optimizer.state_dict(), _OPTIM, tensors)
    if scheduler is not None:
        sd = {k: v for k, v in scheduler.state_dict().items() if not callable(v)}
        meta["scheduler"] = _jsonable(sd, "scheduler")
    if loader is not None:
        meta["loader"] = _jsonable(loader.state_dict(), "loader")
    meta["rng"] = _rng_states()
    meta["extra"] = _jsonable(extra or {}, "extra")
    save_file(tensors, path, metadata={FORMAT: json.dumps(meta, allow_nan=True)})


class CheckpointError(SafetensorsError):
    """A training checkpoint is damaged, malformed or does not fit what it is loaded into.

    The message names the metadata field (``rng.dlx``, ``optimizer``, ``extra.history`` ...).
    A :class:`dlx.io.SafetensorsError`, hence a ``ValueError``.
    """


def load_checkpoint(
    path: str | os.PathLike[str],
    model: Any = None,
    optimizer: Any = None,
    scheduler: Any = None,
    *,
    loader: Any = None,
    restore_rng: bool = True,
    validate_hparams: bool = True,
) -> dict[str, Any]:
    """Restore what :func:`save_checkpoint` wrote into the given objects.

    Returns the metadata dict (``epoch``, ``step``, ``extra`` ...). Every metadata field is
    checked before any object changes; a malformed field raises :class:`CheckpointError`
    naming it, as does an object that refuses its saved state (objects restored before it
    keep the checkpoint's values). The optimiser's hyper-parameters go through its
    constructor's checks (a NaN or negative ``lr`` is refused) unless
    ``validate_hparams=False``, for deliberate overrides.

    Raises :class:`dlx.io.SafetensorsError` (a ValueError) for a damaged file, ValueError
    for a file that is not a dlx checkpoint, and :class:`dlx.nn.StateDictError` (a
    RuntimeError, as PyTorch's ``load_state_dict``) naming the keys when the model's
    parameters differ.
    """
    meta_raw = read_metadata(path).get(FORMAT)
    if meta_raw is None:
        msg = f"{os.fspath(path)!r} is not a dlx training checkpoint (no {FORMAT!r} metadata)"
        raise ValueError(msg)
    try:
        meta = json.loads(meta_raw)
    except (json.JSONDecodeError, RecursionError) as exc:
        msg = f"checkpoint metadata is not valid JSON: {exc}"
        raise CheckpointError(msg) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        got = meta.get("format") if isinstance(meta, dict) else None
        msg = f"checkpoint metadata has format {got!r}, expected {FORMAT!r}"
        raise ValueError(msg)
    if meta.get("version") != VERSION:
        msg = f"unsupported checkpoint version {meta.get('version')!r} (this dlx reads {VERSION})"
        raise ValueError(msg)
    _check_fields(meta)
    rng = _rng_plan(meta.get("rng", {})) if restore_rng else None
    tensors = load_file(path)
    for obj, field in ((optimizer, "optimizer"), (scheduler, "scheduler")):
        if obj is not None and field not in meta:
            msg = f"checkpoint holds no {field} state"
            raise CheckpointError(msg)
    opt_state = None
    if optimizer is not None:
        opt_state = _restoring("optimizer", _optimizer_state, meta["optimizer"], tensors)
    if scheduler is not None:
        _check_scheduler(meta["scheduler"], scheduler)
    if model is not None:
        sd = {k[len(_MODEL) :]: v for k, v in tensors.items() if k.startswith(_MODEL)}
        _restoring("model", model.load_state_dict, sd)
    if optimizer is not None:
        _restoring(
            "optimizer", optimizer.load_state_dict, opt_state, validate_hparams=validate_hparams
        )
    if scheduler is not None:
        _restoring("scheduler", scheduler.load_state_dict, meta["scheduler"])
    if loader is not None and "loader" in meta:
        _restoring("loader", loader.load_state_dict, meta["loader"])
    if rng is not None:
        rng()
    return meta


def _restoring(field: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args)``; what it raises about the checkpoint's data becomes a CheckpointError."""
    try:
        return fn(*args, **kwargs)
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as exc:
        msg = f"checkpoint field {field!r} cannot be restored: {exc}"
        raise CheckpointError(msg) from exc


def _bad_field(field: str, rule: str, value: Any) -> NoReturn:
    """Raise the CheckpointError for a malformed metadata field."""
    text = repr(value)
    shown = text if len(text) <= 80 else text[:77] + "..."
    msg = f"checkpoint field {field!r} must be {rule}, got {shown}"
    raise CheckpointError(msg)


def _check_fields(meta: dict[str, Any]) -> None:
    """The types of every top-level metadata field (contents are checked where used)."""
    for field, required in (("epoch", True), ("step", False)):
        value = meta.get(field, 0)
        if (required and field not in meta) or not _is_count(value):
            _bad_field(field, "a non-negative int", meta.get(field))
    for field in ("optimizer", "scheduler", "loader", "rng", "extra"):
        if field in meta and not isinstance(meta[field], dict):
            _bad_field(field, "an object", meta[field])
    extra = meta.get("extra", {})
    if "history" in extra and not isinstance(extra["history"], dict):
        _bad_field("extra.history", "an object", extra["history"])
    cbs = extra.get("callbacks", [])
    if not isinstance(cbs, list) or not all(isinstance(c, dict) for c in cbs):
        _bad_field("extra.callbacks", "a list of objects", cbs)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_scheduler(state: dict[str, Any], scheduler: Any) -> None:
    """Only the scheduler's own attributes, and finite non-negative learning rates."""
    known = set(scheduler.state_dict())
    unknown = sorted(set(state) - known)
    if unknown:
        _bad_field("scheduler", f"an object with keys among {sorted(known)}", unknown)
    for key in ("base_lrs", "_last_lr"):
        lrs = state.get(key, [])
        if not isinstance(lrs, list) or not all(_is_lr(x) for x in lrs):
            _bad_field(f"scheduler.{key}", "a list of finite numbers >= 0", lrs)


def _is_lr(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and 0 <= x < float("inf")


def save_training_state(path: str | os.PathLike[str], state: Any, next_epoch: int) -> None:
    """Checkpoint a running ``fit`` (its :class:`~dlx.train.callbacks.TrainState`)."""
    extra = {
        "history": state.history.state_dict(),
        "callbacks": [cb.state_dict() for cb in state.callbacks],
    }
    save_checkpoint(
        path,
        state.model,
        state.optimizer,
        state.scheduler,
        epoch=next_epoch,
        step=state.step,
        loader=state.loader,
        extra=extra,
    )


def load_training_state(path: str | os.PathLike[str], state: Any) -> int:
    """Restore a running ``fit`` from :func:`save_training_state`; returns the next epoch."""
    meta = load_checkpoint(path, state.model, state.optimizer, state.scheduler, loader=state.loader)
    extra = meta.get("extra", {})
    if "history" in extra:
        _restoring("extra.history", state.history.load_state_dict, extra["history"])
    saved_cbs = extra.get("callbacks", [])
    if len(saved_cbs) == len(state.callbacks):
        for i, (cb, st) in enumerate(zip(state.callbacks, saved_cbs, strict=True)):
            if st:
                _restoring(f"extra.callbacks[{i}]", cb.load_state_dict, st)
    state.step = int(meta.get("step", 0))
    return int(meta["epoch"])


# -- helpers ------------------------------------------------------------------------------
def _flatten(obj: Any, prefix: str, tensors: dict[str, np.ndarray]) -> Any:
    """JSON form of ``obj``; arrays become tensors named ``prefix...``."""
    if isinstance(obj, np.ndarray) and obj.ndim > 0:
        tensors[prefix] = obj
        return {"__tensor__": prefix}
    if isinstance(obj, dict):
        return {
            "__dict__": [[_key(k), _flatten(v, f"{prefix}{k}.", tensors)] for k, v in obj.items()]
        }
    if isinstance(obj, tuple):
        return {"__tuple__": [_flatten(v, f"{prefix}{i}.", tensors) for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_flatten(v, f"{prefix}{i}.", tensors) for i, v in enumerate(obj)]
    return _jsonable(obj, prefix.rstrip("."))


def _key(k: Any) -> Any:
    if isinstance(k, bool | int | str | float) or k is None:
        return k
    msg = f"checkpoint: cannot store dict key of type {type(k).__name__}"
    raise TypeError(msg)


def _unflatten(obj: Any, tensors: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, list):
        return [_unflatten(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            name = obj["__tensor__"]
            if not isinstance(name, str) or name not in tensors:
                msg = f"checkpoint refers to tensor {name!r}, which the file does not hold"
                raise CheckpointError(msg)
            return tensors[name]
        if "__tuple__" in obj:
            items = obj["__tuple__"]
            if not isinstance(items, list):
                _bad_field("optimizer", "a list under '__tuple__'", items)
            return tuple(_unflatten(v, tensors) for v in items)
        if "__dict__" in obj:
            pairs = obj["__dict__"]
            if not isinstance(pairs, list) or not all(
                isinstance(p, list) and len(p) == 2 and isinstance(p[0], bool | int | str | float)
                for p in pairs
            ):
                _bad_field("optimizer", "[key, value] pairs under '__dict__'", pairs)
            return {k: _unflatten(v, tensors) for k, v in pairs}
        return {k: _unflatten(v, tensors) for k, v in obj.items()}
    return obj


def _optimizer_state(flat: Any, tensors: dict[str, np.ndarray]) -> dict:
    sd = _unflatten(flat, tensors)
    if not isinstance(sd, dict) or not isinstance(sd.get("param_groups"), list):
        _bad_field("optimizer", "an optimizer state with 'param_groups'", flat)
    if not isinstance(sd.get("state", {}), dict):
        _bad_field("optimizer.state", "an object", sd.get("state"))
    return sd


def _jsonable(obj: Any, what: str) -> Any:
    """``obj`` with NumPy scalars/arrays converted to Python; TypeError otherwise."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v, f"{what}.{k}") for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v, f"{what}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        return obj  # json writes Infinity/NaN as such
    msg = f"checkpoint: `{what}` of type {type(obj).__name__} is not JSON-serialisable"
    raise TypeError(msg)


def _rng_states() -> dict[str, Any]:
    gen = _random._default
    legacy = np.random.get_state(legacy=False)  # noqa: NPY002 - saved on purpose
    return {
        "dlx": None if gen is None else _jsonable(dict(gen.bit_generator.state), "rng"),
        "numpy": _jsonable(legacy, "rng"),
    }


def _rng_plan(rng: dict[str, Any]) -> Any:
    """Check the saved RNG states completely; return a function that installs them."""
    gen = None
    state = rng.get("dlx")
    if state is not None:
        if not isinstance(state, dict):
            _bad_field("rng.dlx", "an object (a NumPy bit generator state)", state)
        name = state.get("bit_generator")
        if name not in _BIT_GENERATORS:
            msg = f"checkpoint field 'rng.dlx': unknown bit generator {name!r}"
            raise CheckpointError(msg)
        gen = np.random.Generator(getattr(np.random, name)())
        _restoring("rng.dlx", setattr, gen.bit_generator, "state", state)
    legacy = None
    st = rng.get("numpy")
    if st is not None:
        inner = st.get("state") if isinstance(st, dict) else None
        if not isinstance(inner, dict) or not {"key", "pos"} <= inner.keys():
            _bad_field("rng.numpy", "a NumPy legacy RNG state", st)
        legacy = dict(st)
        legacy["state"] = _restoring(
            "rng.numpy",
            lambda: {
                "key": np.asarray(inner["key"], dtype=np.uint64).astype(np.uint32),
                "pos": int(inner["pos"]),
            },
        )
        _restoring("rng.numpy", np.random.RandomState().set_state, legacy)  # a probe

    def install() -> None:
        if gen is not None:
            _random._default = gen
        if legacy is not None:
            np.random.set_state(legacy)  # noqa: NPY002 - restored on purpose

    return install
