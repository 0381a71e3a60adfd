"""``model=gru_layernorm``: the layer-normalised GRU (Ba, Kiros and Hinton 2016), on the engine."""

from __future__ import annotations

from dataclasses import dataclass

from seqnet.models.cells.gru_layernorm import LayerNormGRUCell
from seqnet.models.options import GatedConfig
from seqnet.models.registry import register_model


@dataclass
class GRULayerNormConfig(GatedConfig):
    name: str = "gru_layernorm"


register_model("gru_layernorm", config=GRULayerNormConfig)(LayerNormGRUCell)
