"""``model=indrnn``: the independently recurrent network (Li et al. 2018), on the engine."""

from __future__ import annotations

from dataclasses import dataclass

from seqnet.models.cells.indrnn import IndRNNCell
from seqnet.models.options import EngineConfig
from seqnet.models.registry import register_model
from seqnet.models.rnn import Nonlinearity


@dataclass
class IndRNNConfig(EngineConfig):
    name: str = "indrnn"
    nonlinearity: Nonlinearity = Nonlinearity.relu
    # T: keep |u| <= 2^(1/T), so a unit's gradient grows at most 2x over T steps; null = off.
    recurrent_max: int | None = None


register_model("indrnn", config=IndRNNConfig)(IndRNNCell)
