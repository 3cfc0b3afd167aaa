"""Neural-network building blocks: Parameter, Module, containers, layers, init, functional."""

from __future__ import annotations

from dlx.nn import functional, init, utils
from dlx.nn.modules import (
    GRU,
    LSTM,
    RNN,
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    Flatten,
    GaussianMixtureNLL,
    HuberLoss,
    Identity,
    IncompatibleKeys,
    L1Loss,
    Linear,
    Module,
    ModuleList,
    MSELoss,
    NLLLoss,
    RemovableHandle,
    Sequential,
    StateDictError,
)
from dlx.nn.parameter import Parameter

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "Flatten",
    "GaussianMixtureNLL",
    "HuberLoss",
    "Identity",
    "IncompatibleKeys",
    "L1Loss",
    "Linear",
    "MSELoss",
    "Module",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "RemovableHandle",
    "Sequential",
    "StateDictError",
    "functional",
    "init",
    "utils",
]
