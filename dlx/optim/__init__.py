"""Optimisers over flat parameter buffers, learning-rate schedules and L-BFGS.

Every update rule is one fused C++ kernel (one OpenMP pass) over a flat buffer holding
all parameters of a dtype; see :mod:`dlx.optim.optimizer` for the design. Names,
arguments, defaults and results follow ``torch.optim``.
"""

from __future__ import annotations

from dlx.optim import lr_scheduler
from dlx.optim._validation import ParamDTypeError
from dlx.optim.adam import Adam, Adamax, AdamW, NAdam, RAdam
from dlx.optim.lbfgs import LBFGS
from dlx.optim.optimizer import Optimizer
from dlx.optim.sgd import ASGD, SGD, Adadelta, Adagrad, RMSprop, Rprop

__all__ = [
    "ASGD",
    "LBFGS",
    "SGD",
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "NAdam",
    "Optimizer",
    "ParamDTypeError",
    "RAdam",
    "RMSprop",
    "Rprop",
    "lr_scheduler",
]
