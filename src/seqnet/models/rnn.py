"""``model=rnn``: the vanilla (Elman) RNN, tanh or ReLU, on PyTorch's fused ``nn.RNN``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from seqnet.data.base import TaskSpec
from seqnet.models.cores import FusedRNN
from seqnet.models.registry import ModelConfig, register_model
from seqnet.models.sequence_model import Head, SequenceModel, check_core_options, make_encoder


class Nonlinearity(Enum):
    tanh = "tanh"
    relu = "relu"


@dataclass
class RNNConfig(ModelConfig):
    name: str = "rnn"
    nonlinearity: Nonlinearity = Nonlinearity.tanh


@register_model("rnn", config=RNNConfig)
class RNNModel(SequenceModel):
    def __init__(
        self,
        spec: TaskSpec,
        hidden_size: int = 128,
        num_layers: int = 1,
        dropout: float = 0.0,
        encoder_size: int | None = 32,
        nonlinearity: str = "tanh",
    ) -> None:
        check_core_options(hidden_size, num_layers, dropout)
        encoder, features = make_encoder(spec, encoder_size)
        core = FusedRNN(
            features,
            hidden_size,
            num_layers,
            nonlinearity=nonlinearity,
            batch_first=True,
            dropout=dropout,
        )
        super().__init__(spec, core, encoder, Head(hidden_size, spec.output_size, spec.output_mode))
