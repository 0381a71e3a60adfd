"""``model=rnn``: the vanilla (Elman) RNN, tanh or ReLU, on PyTorch's fused ``nn.RNN`` (or, by
``backend``, the engine)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from seqnet.models.cores import FusedRNN
from seqnet.models.options import Backend, EngineConfig, RecurrentInit
from seqnet.models.registry import register_model


class Nonlinearity(Enum):
    tanh = "tanh"
    relu = "relu"


@dataclass
class RNNConfig(EngineConfig):
    name: str = "rnn"
    nonlinearity: Nonlinearity = Nonlinearity.tanh
    recurrent_init: RecurrentInit = RecurrentInit.default
    backend: Backend = Backend.auto


register_model("rnn", config=RNNConfig)(FusedRNN)
