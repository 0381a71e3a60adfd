"""``model=irnn``: the ReLU RNN with identity recurrent and zero bias initialisation (Le, Jaitly
and Hinton 2015), on the engine."""

from __future__ import annotations

from dataclasses import dataclass

from seqnet.models.cells.irnn import IRNNCell
from seqnet.models.options import EngineConfig
from seqnet.models.registry import register_model


@dataclass
class IRNNConfig(EngineConfig):
    name: str = "irnn"


register_model("irnn", config=IRNNConfig)(IRNNCell)
