"""Neural-network building blocks: Parameter, Module, containers, layers, init, functional."""

from __future__ import annotations

from dlx.nn import functional, init
from dlx.nn.modules import (
    Flatten,
    Identity,
    IncompatibleKeys,
    Linear,
    Module,
    ModuleList,
    RemovableHandle,
    Sequential,
    StateDictError,
)
from dlx.nn.parameter import Parameter

__all__ = [
    "Flatten",
    "Identity",
    "IncompatibleKeys",
    "Linear",
    "Module",
    "ModuleList",
    "Parameter",
    "RemovableHandle",
    "Sequential",
    "StateDictError",
    "functional",
    "init",
]
