"""``model=gru``: the GRU on PyTorch's fused ``nn.GRU``."""

from __future__ import annotations

from dataclasses import dataclass

from seqnet.data.base import TaskSpec
from seqnet.models.cores import FusedGRU
from seqnet.models.registry import ModelConfig, register_model
from seqnet.models.sequence_model import Head, SequenceModel, check_core_options, make_encoder


@dataclass
class GRUConfig(ModelConfig):
    name: str = "gru"


@register_model("gru", config=GRUConfig)
class GRUModel(SequenceModel):
    def __init__(
        self,
        spec: TaskSpec,
        hidden_size: int = 128,
        num_layers: int = 1,
        dropout: float = 0.0,
        encoder_size: int | None = 32,
    ) -> None:
        check_core_options(hidden_size, num_layers, dropout)
        encoder, features = make_encoder(spec, encoder_size)
        core = FusedGRU(features, hidden_size, num_layers, batch_first=True, dropout=dropout)
        super().__init__(spec, core, encoder, Head(hidden_size, spec.output_size, spec.output_mode))
