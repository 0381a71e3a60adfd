"""``model=irnn``: the ReLU RNN with identity recurrent and zero bias initialisation (Le, Jaitly
and Hinton 2015), on the engine."""

from __future__ import annotations

from dataclasses import dataclass

from seqnet.models.cells.irnn import IRNNCell
from seqnet.models.registry import ModelConfig, register_model


@dataclass
class IRNNConfig(ModelConfig):
    name: str = "irnn"


register_model("irnn", config=IRNNConfig)(IRNNCell)
