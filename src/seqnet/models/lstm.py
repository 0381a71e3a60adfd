"""``model=lstm``: the LSTM on PyTorch's fused ``nn.LSTM``, with a forget-gate bias."""

from __future__ import annotations

from dataclasses import dataclass

from seqnet.data.base import TaskSpec
from seqnet.models.cores import FusedLSTM
from seqnet.models.registry import ModelConfig, register_model
from seqnet.models.sequence_model import Head, SequenceModel, check_core_options, make_encoder


@dataclass
class LSTMConfig(ModelConfig):
    name: str = "lstm"
    # Initial forget-gate bias (Gers et al. 2000; Jozefowicz et al. 2015): set once, in bias_ih.
    forget_bias: float = 1.0


@register_model("lstm", config=LSTMConfig)
class LSTMModel(SequenceModel):
    def __init__(
        self,
        spec: TaskSpec,
        hidden_size: int = 128,
        num_layers: int = 1,
        dropout: float = 0.0,
        encoder_size: int | None = 32,
        forget_bias: float = 1.0,
    ) -> None:
        check_core_options(hidden_size, num_layers, dropout)
        encoder, features = make_encoder(spec, encoder_size)
        core = FusedLSTM(
            features,
            hidden_size,
            num_layers,
            batch_first=True,
            dropout=dropout,
            forget_bias=forget_bias,
        )
        super().__init__(spec, core, encoder, Head(hidden_size, spec.output_size, spec.output_mode))
