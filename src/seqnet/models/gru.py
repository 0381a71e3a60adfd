"""``model=gru``: the GRU on PyTorch's fused ``nn.GRU``."""

from __future__ import annotations

from dataclasses import dataclass

from seqnet.models.cores import FusedGRU
from seqnet.models.registry import ModelConfig, register_model


@dataclass
class GRUConfig(ModelConfig):
    name: str = "gru"


register_model("gru", config=GRUConfig)(FusedGRU)
