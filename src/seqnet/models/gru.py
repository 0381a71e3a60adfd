"""``model=gru``: the GRU on PyTorch's fused ``nn.GRU`` (or, by ``backend``, the engine)."""

from __future__ import annotations

from dataclasses import dataclass

from seqnet.models.cores import FusedGRU
from seqnet.models.options import Backend, GatedConfig
from seqnet.models.registry import register_model


@dataclass
class GRUConfig(GatedConfig):
    name: str = "gru"
    backend: Backend = Backend.auto


register_model("gru", config=GRUConfig)(FusedGRU)
