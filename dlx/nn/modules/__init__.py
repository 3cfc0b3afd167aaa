"""Layer and container classes (re-exported by ``dlx.nn``)."""

from __future__ import annotations

from dlx.nn.modules._module_utils import IncompatibleKeys, RemovableHandle, StateDictError
from dlx.nn.modules.activation import (
    ELU,
    GELU,
    AbsReLU,
    Hardtanh,
    LeakyReLU,
    LogSoftmax,
    Maxout,
    PReLU,
    ReLU,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Tanh,
)
from dlx.nn.modules.attention import MultiheadAttention
from dlx.nn.modules.container import ModuleDict, ModuleList, Residual, Sequential
from dlx.nn.modules.container_params import ParameterDict, ParameterList
from dlx.nn.modules.conv import Conv1d, Conv2d
from dlx.nn.modules.conv_transpose import ConvTranspose2d
from dlx.nn.modules.dropout import Dropout
from dlx.nn.modules.flatten import Flatten, Unflatten
from dlx.nn.modules.linear import Identity, Linear
from dlx.nn.modules.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineEmbeddingLoss,
    CrossEntropyLoss,
    GaussianNLLLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MarginRankingLoss,
    MSELoss,
    NLLLoss,
    PoissonNLLLoss,
    SmoothL1Loss,
    TripletMarginLoss,
)
from dlx.nn.modules.loss_mdn import GaussianMixtureNLL
from dlx.nn.modules.module import Module
from dlx.nn.modules.normalization import (
    BatchNorm1d,
    BatchNorm2d,
    GroupNorm,
    LayerNorm,
    RMSNorm,
)
from dlx.nn.modules.pooling import AvgPool2d, MaxPool2d
from dlx.nn.modules.resize import AdaptiveAvgPool2d, AdaptiveMaxPool2d, Upsample
from dlx.nn.modules.rnn import GRU, LSTM, RNN, RNNBase
from dlx.nn.modules.rnn_cell import GRUCell, LSTMCell, RNNCell, RNNCellBase
from dlx.nn.modules.sparse import Embedding
from dlx.nn.modules.transformer import TransformerEncoder, TransformerEncoderLayer

__all__ = [
    "ELU",
    "GELU",
    "GRU",
    "LSTM",
    "RNN",
    "AbsReLU",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "AvgPool2d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "ConvTranspose2d",
    "CosineEmbeddingLoss",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "Flatten",
    "GRUCell",
    "GaussianMixtureNLL",
    "GaussianNLLLoss",
    "GroupNorm",
    "Hardtanh",
    "HuberLoss",
    "Identity",
    "IncompatibleKeys",
    "KLDivLoss",
    "L1Loss",
    "LSTMCell",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "MarginRankingLoss",
    "MaxPool2d",
    "Maxout",
    "Module",
    "ModuleDict",
    "ModuleList",
    "MultiheadAttention",
    "NLLLoss",
    "PReLU",
    "ParameterDict",
    "ParameterList",
    "PoissonNLLLoss",
    "RMSNorm",
    "RNNBase",
    "RNNCell",
    "RNNCellBase",
    "ReLU",
    "RemovableHandle",
    "Residual",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "SmoothL1Loss",
    "Softmax",
    "Softplus",
    "StateDictError",
    "Tanh",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "TripletMarginLoss",
    "Unflatten",
    "Upsample",
]
