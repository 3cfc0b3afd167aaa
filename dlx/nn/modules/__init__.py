"""Layer and container classes (re-exported by ``dlx.nn``)."""

from __future__ import annotations

from dlx.nn.modules._module_utils import IncompatibleKeys, RemovableHandle, StateDictError
from dlx.nn.modules.container import ModuleList, Sequential
from dlx.nn.modules.flatten import Flatten
from dlx.nn.modules.linear import Identity, Linear
from dlx.nn.modules.module import Module

__all__ = [
    "Flatten",
    "Identity",
    "IncompatibleKeys",
    "Linear",
    "Module",
    "ModuleList",
    "RemovableHandle",
    "Sequential",
    "StateDictError",
]
