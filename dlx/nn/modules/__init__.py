"""Layer and container classes (re-exported by ``dlx.nn``)."""

from __future__ import annotations

from dlx.nn.modules._module_utils import IncompatibleKeys, RemovableHandle, StateDictError
from dlx.nn.modules.container import ModuleList, Sequential
from dlx.nn.modules.flatten import Flatten
from dlx.nn.modules.linear import Identity, Linear
from dlx.nn.modules.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
)
from dlx.nn.modules.loss_mdn import GaussianMixtureNLL
from dlx.nn.modules.module import Module
from dlx.nn.modules.rnn import GRU, LSTM, RNN, RNNBase

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
    "RNNBase",
    "RemovableHandle",
    "Sequential",
    "StateDictError",
]
