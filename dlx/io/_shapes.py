"""The state-dict shapes of every dlx layer class, computed from its config alone.

``dlx.load`` compares them with the tensors a file holds *before* it constructs any
layer: an architecture that names ``Conv2d(4096, 4096, 7)`` next to a few bytes of weights
is refused without allocating anything. Each rule mirrors its constructor (the same
defaults, the same size checks) and returns the layer's own parameters and persistent
buffers, ``{name: shape}``; submodules are walked by the caller. ``tests/io/test_hostile_model``
checks every registered class against the real layer's ``state_dict()``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from dlx._validation import as_int, non_negative_int

Shapes = dict[str, tuple[int, ...]]

__all__ = ["Shapes", "state_shapes"]


def state_shapes(cls: type[Any], config: dict[str, Any]) -> Shapes:
    """The own parameter and buffer shapes of ``cls(**config)``, without building it.

    Raises ValueError (or TypeError) for a config the constructor would refuse as far as
    the sizes go, and ValueError for a class that has no rule here.
    """
    name = cls.__name__
    rule = _RULES.get(name)
    if rule is None:
        msg = f"dlx.load: no parameter-shape rule for layer class {name!r}"
        raise ValueError(msg)
    if rule is _stateless:
        return {}
    try:
        bound = inspect.signature(cls).bind(**config)
    except TypeError as exc:
        msg = f"{name}: invalid config {sorted(config)}: {exc}"
        raise ValueError(msg) from None
    bound.apply_defaults()
    return rule(name, bound.arguments)


def _stateless(name: str, a: dict[str, Any]) -> Shapes:
    return {}


def _positive(value: Any, arg: str, name: str) -> int:
    n = as_int(value, arg)
    if n < 1:
        msg = f"{name}: `{arg}` must be positive, got {n}"
        raise ValueError(msg)
    return n


def _pair(value: Any, arg: str, name: str) -> tuple[int, int]:
    from dlx.nn.functional._util import pair

    return pair(value, arg, name, minimum=1)


def _linear(name: str, a: dict[str, Any]) -> Shapes:
    i = non_negative_int(a["in_features"], "in_features")
    o = non_negative_int(a["out_features"], "out_features")
    return {"weight": (o, i), **({"bias": (o,)} if a["bias"] else {})}


def _conv2d(name: str, a: dict[str, Any]) -> Shapes:
    groups = _positive(a["groups"], "groups", name)
    c, o = (
        _positive(a["in_channels"], "in_channels", name),
        _positive(a["out_channels"], "out_channels", name),
    )
    kh, kw = _pair(a["kernel_size"], "kernel_size", name)
    return {"weight": (o, c // groups, kh, kw), **({"bias": (o,)} if a["bias"] else {})}


def _conv1d(name: str, a: dict[str, Any]) -> Shapes:
    from dlx.nn.functional._conv_transpose import single

    groups = _positive(a["groups"], "groups", name)
    c = _positive(a["in_channels"], "in_channels", name)
    o = _positive(a["out_channels"], "out_channels", name)
    k = single(a["kernel_size"], "kernel_size", name, minimum=1)
    return {"weight": (o, c // groups, k), **({"bias": (o,)} if a["bias"] else {})}


def _conv_transpose2d(name: str, a: dict[str, Any]) -> Shapes:
    groups = _positive(a["groups"], "groups", name)
    c = _positive(a["in_channels"], "in_channels", name)
    o = _positive(a["out_channels"], "out_channels", name)
    kh, kw = _pair(a["kernel_size"], "kernel_size", name)
    return {"weight": (c, o // groups, kh, kw), **({"bias": (o,)} if a["bias"] else {})}


def _multihead_attention(name: str, a: dict[str, Any]) -> Shapes:
    from dlx.nn.modules.attention import _attn_sizes

    e, _ = _attn_sizes(name, a["embed_dim"], a["num_heads"])
    k = e if a["kdim"] is None else _positive(a["kdim"], "kdim", name)
    v = e if a["vdim"] is None else _positive(a["vdim"], "vdim", name)
    out: Shapes = (
        {"in_proj_weight": (3 * e, e)}
        if k == e and v == e
        else {"q_proj_weight": (e, e), "k_proj_weight": (e, k), "v_proj_weight": (e, v)}
    )
    if a["bias"]:
        out["in_proj_bias"] = (3 * e,)
    return out  # out_proj is a child Linear


def _batch_norm(name: str, a: dict[str, Any]) -> Shapes:
    c = _positive(a["num_features"], "num_features", name)
    out: Shapes = {}
    if a["affine"]:
        out.update(weight=(c,), bias=(c,))
    if a["track_running_stats"]:
        out.update(running_mean=(c,), running_var=(c,), num_batches_tracked=())
    return out


def _normalized(name: str, a: dict[str, Any]) -> Shapes:
    from dlx.nn.functional._layer_norm import normalized_shape_of

    shape = normalized_shape_of(a["normalized_shape"], name)
    if not a["elementwise_affine"]:
        return {}
    if name == "RMSNorm" or not a["bias"]:
        return {"weight": shape}
    return {"weight": shape, "bias": shape}


def _group_norm(name: str, a: dict[str, Any]) -> Shapes:
    c = _positive(a["num_channels"], "num_channels", name)
    return {"weight": (c,), "bias": (c,)} if a["affine"] else {}


def _embedding(name: str, a: dict[str, Any]) -> Shapes:
    v = non_negative_int(a["num_embeddings"], "num_embeddings")
    return {"weight": (v, non_negative_int(a["embedding_dim"], "embedding_dim"))}


def _prelu(name: str, a: dict[str, Any]) -> Shapes:
    return {"weight": (_positive(a["num_parameters"], "num_parameters", name),)}


def _gates(name: str) -> int:
    from dlx.nn.functional._rnn import GATES

    mode = {"LSTM": "lstm", "LSTMCell": "lstm", "GRU": "gru", "GRUCell": "gru"}.get(name)
    return GATES[mode or "rnn_tanh"]


def _recurrent(name: str, a: dict[str, Any]) -> Shapes:
    from dlx.nn.modules._layer_utils import recurrent_sizes

    i, h = recurrent_sizes(name, a["input_size"], a["hidden_size"])
    gh = _gates(name) * h
    cell = name.endswith("Cell")
    layers = 1 if cell else _positive(a["num_layers"], "num_layers", name)
    dirs = 2 if not cell and a["bidirectional"] else 1
    out: Shapes = {}
    for layer in range(layers):
        in_size = i if layer == 0 else dirs * h
        for d in range(dirs):
            sfx = "" if cell else f"_l{layer}" + ("_reverse" if d == 1 else "")
            out[f"weight_ih{sfx}"] = (gh, in_size)
            out[f"weight_hh{sfx}"] = (gh, h)
            if a["bias"]:
                out[f"bias_ih{sfx}"] = (gh,)
                out[f"bias_hh{sfx}"] = (gh,)
    return out


def _weighted(name: str, a: dict[str, Any]) -> Shapes:
    # The weights themselves are in the (size-capped) JSON header, not in the tensors.
    out: Shapes = {}
    for key in ("weight", "pos_weight"):
        if a.get(key) is not None:
            out[key] = tuple(int(d) for d in np.shape(a[key]))
    return out


_STATELESS = (
    "AbsReLU", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "AvgPool2d", "Upsample", "Dropout", "ELU", "Flatten", "GELU", "GaussianMixtureNLL",
    "Hardtanh", "HuberLoss", "Identity", "L1Loss", "LeakyReLU", "LogSoftmax", "MSELoss",
    "MaxPool2d", "Maxout", "ModuleDict", "ModuleList", "ReLU", "Residual", "Sequential", "SiLU",
    "Sigmoid", "Softmax", "Softplus", "Tanh", "TransformerEncoder", "TransformerEncoderLayer",
    "Unflatten", "SmoothL1Loss", "KLDivLoss", "GaussianNLLLoss", "PoissonNLLLoss",
    "MarginRankingLoss", "CosineEmbeddingLoss", "TripletMarginLoss",
)  # fmt: skip


def _parameter_specs(name: str, a: dict[str, Any]) -> Shapes:
    specs = a["values"] if name == "ParameterList" else a["parameters"]
    if specs is None:
        return {}
    items = enumerate(specs) if name == "ParameterList" else dict(specs).items()
    out: Shapes = {}
    for key, spec in items:
        if not isinstance(spec, dict) or not isinstance(spec.get("shape"), list):
            msg = f"{name}: entry {key!r} must be a spec with a `shape` list, got {spec!r}"
            raise ValueError(msg)  # noqa: TRY004 - a malformed model file
        out[str(key)] = tuple(as_int(d, "shape") for d in spec["shape"])
    return out


_RULES: dict[str, Callable[[str, dict[str, Any]], Shapes]] = {
    "ParameterList": _parameter_specs,
    "ParameterDict": _parameter_specs,
    **dict.fromkeys(_STATELESS, _stateless),
    "Linear": _linear,
    "Conv2d": _conv2d,
    "Conv1d": _conv1d,
    "ConvTranspose2d": _conv_transpose2d,
    "MultiheadAttention": _multihead_attention,
    "BatchNorm1d": _batch_norm,
    "BatchNorm2d": _batch_norm,
    "PReLU": _prelu,
    "LayerNorm": _normalized,
    "RMSNorm": _normalized,
    "GroupNorm": _group_norm,
    "Embedding": _embedding,
    **dict.fromkeys(("RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"), _recurrent),
    **dict.fromkeys(("BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss"), _weighted),
}
