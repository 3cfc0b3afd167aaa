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
from typing import Any

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


def load_checkpoint(
    path: str | os.PathLike[str],
    model: Any = None,
    optimizer: Any = None,
    scheduler: Any = None,
    *,
    loader: Any = None,
    restore_rng: bool = True,
) -> dict[str, Any]:
    """Restore what :func:`save_checkpoint` wrote into the given objects.

    Returns the metadata dict (``epoch``, ``step``, ``extra`` ...). Raises
    :class:`dlx.io.SafetensorsError` (a ValueError) for a damaged file, ValueError for a
    file that is not a dlx checkpoint or does not match the optimiser, scheduler or loader,
    and :class:`dlx.nn.StateDictError` (a RuntimeError, as PyTorch's ``load_state_dict``)
    naming the keys when the model's parameters differ.
    """
    meta_raw = read_metadata(path).get(FORMAT)
    if meta_raw is None:
        msg = f"{os.fspath(path)!r} is not a dlx training checkpoint (no {FORMAT!r} metadata)"
        raise ValueError(msg)
    try:
        meta = json.loads(meta_raw)
    except (json.JSONDecodeError, RecursionError) as exc:
        msg = f"checkpoint metadata is not valid JSON: {exc}"
        raise SafetensorsError(msg) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        msg = f"checkpoint metadata has format {meta.get('format') if isinstance(meta, dict) else None!r}, expected {FORMAT!r}"
        raise ValueError(msg)
    if meta.get("version") != VERSION:
        msg = f"unsupported checkpoint version {meta.get('version')!r} (this dlx reads {VERSION})"
        raise ValueError(msg)
    tensors = load_file(path)
    if model is not None:
        model.load_state_dict(
            {k[len(_MODEL) :]: v for k, v in tensors.items() if k.startswith(_MODEL)}
        )
    if optimizer is not None:
        if "optimizer" not in meta:
            msg = "checkpoint holds no optimizer state"
            raise ValueError(msg)
        optimizer.load_state_dict(_optimizer_state(meta["optimizer"], tensors, optimizer))
    if scheduler is not None:
        if "scheduler" not in meta:
            msg = "checkpoint holds no scheduler state"
            raise ValueError(msg)
        scheduler.load_state_dict(meta["scheduler"])
    if loader is not None and "loader" in meta:
        loader.load_state_dict(meta["loader"])
    if restore_rng:
        _set_rng_states(meta.get("rng", {}))
    return meta


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
        state.history.load_state_dict(extra["history"])
    saved_cbs = extra.get("callbacks", [])
    if len(saved_cbs) == len(state.callbacks):
        for cb, st in zip(state.callbacks, saved_cbs, strict=True):
            if st:
                cb.load_state_dict(st)
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
            if name not in tensors:
                msg = f"checkpoint refers to tensor {name!r}, which the file does not hold"
                raise ValueError(msg)
            return tensors[name]
        if "__tuple__" in obj:
            return tuple(_unflatten(v, tensors) for v in obj["__tuple__"])
        if "__dict__" in obj:
            return {k: _unflatten(v, tensors) for k, v in obj["__dict__"]}
        return {k: _unflatten(v, tensors) for k, v in obj.items()}
    return obj


def _optimizer_state(flat: Any, tensors: dict[str, np.ndarray], optimizer: Any) -> dict:
    sd = _unflatten(flat, tensors)
    if not isinstance(sd, dict) or "param_groups" not in sd:
        msg = "checkpoint optimizer state is malformed"
        raise ValueError(msg)
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


def _set_rng_states(rng: dict[str, Any]) -> None:
    if rng.get("dlx") is not None:
        state = rng["dlx"]
        gen = _random.default_generator()
        name = state.get("bit_generator")
        if name != type(gen.bit_generator).__name__:
            if name not in _BIT_GENERATORS:
                msg = f"checkpoint: unknown bit generator {name!r}"
                raise ValueError(msg)
            gen = np.random.Generator(getattr(np.random, name)())
        gen.bit_generator.state = state
        _random._default = gen
    if rng.get("numpy") is not None:
        st = dict(rng["numpy"])
        st["state"] = {
            "key": np.asarray(st["state"]["key"], dtype=np.uint32),
            "pos": int(st["state"]["pos"]),
        }
        np.random.set_state(st)  # noqa: NPY002 - restored on purpose
