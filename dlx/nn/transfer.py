"""Transfer learning helpers: freeze / unfreeze parameters, copy trained weights across models.

Typical use (a stacked autoencoder's encoders initialise a classifier)::

    from dlx.nn.transfer import copy_weights, freeze

    classifier = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    copy_weights(encoder, classifier[0])  # same keys ("weight", "bias"), shapes checked
    freeze(classifier[0])                 # optional: train only the new head

Values are copied into the destination's existing arrays (never rebound), so an optimiser
built before the copy keeps working.
"""

from __future__ import annotations

from typing import Any

from dlx._grad_mode import no_grad
from dlx._validation import shape_str

__all__ = ["copy_weights", "freeze", "unfreeze"]


def _module(module: Any, name: str, fn: str) -> Any:
    if not (hasattr(module, "state_dict") and hasattr(module, "requires_grad_")):
        msg = f"{fn}: `{name}` must be a dlx.nn.Module, got {type(module).__name__}"
        raise TypeError(msg)
    return module


def freeze(module: Any) -> Any:
    """Stop gradients for every parameter of ``module`` (``requires_grad_(False)``).

    Frozen parameters get no ``.grad``, so optimisers skip them (no update, no weight
    decay). BatchNorm running statistics still update in training mode: call
    ``module.eval()`` as well to fix them. Returns ``module``.
    """
    return _module(module, "module", "freeze").requires_grad_(False)


def unfreeze(module: Any) -> Any:
    """Make every parameter of ``module`` trainable again (``requires_grad_(True)``)."""
    return _module(module, "module", "unfreeze").requires_grad_(True)


def copy_weights(src: Any, dst: Any, strict: bool = True) -> list[str]:
    """Copy the parameters and buffers of ``src`` into ``dst``, key by key, in place.

    Keys are the state-dict names (``"weight"``, ``"0.bias"``, ``"1.running_mean"`` ...).
    Everything is checked before anything is copied.

    Parameters
    ----------
    src, dst : dlx.nn.Module
        E.g. a trained encoder layer and the matching layer of a new model.
    strict : bool
        If True (default) both must have exactly the same keys; if False only the keys
        they share are copied (the rest of ``dst`` is untouched).

    Returns
    -------
    list of str
        The keys copied, in ``dst``'s order.

    Raises
    ------
    ValueError
        Naming the first key whose shapes differ, or (``strict``) the missing/extra keys.
    """
    fn = "copy_weights"
    s = _module(src, "src", fn).state_dict(keep_vars=True)
    d = _module(dst, "dst", fn).state_dict(keep_vars=True)
    if strict and set(s) != set(d):
        missing = [k for k in d if k not in s]
        extra = [k for k in s if k not in d]
        msg = (
            f"{fn}: `src` and `dst` have different keys: missing in `src` {missing}, "
            f"not in `dst` {extra} (pass strict=False to copy the shared keys only)"
        )
        raise ValueError(msg)
    keys = [k for k in d if k in s]
    for k in keys:
        if tuple(s[k].shape) != tuple(d[k].shape):
            msg = (
                f"{fn}: key {k!r} has shape {shape_str(s[k].shape)} in `src` "
                f"but {shape_str(d[k].shape)} in `dst`"
            )
            raise ValueError(msg)
    with no_grad():
        for k in keys:
            d[k].copy_(s[k])  # casts to dst's dtype
    return keys
