"""``model=lstm_peephole``: the LSTM with peephole connections (Gers and Schmidhuber 2000), on
the engine."""

from __future__ import annotations

from dataclasses import dataclass

from seqnet.models.cells.lstm_peephole import PeepholeLSTMCell
from seqnet.models.options import LSTMFamilyConfig
from seqnet.models.registry import register_model


@dataclass
class LSTMPeepholeConfig(LSTMFamilyConfig):
    name: str = "lstm_peephole"


register_model("lstm_peephole", config=LSTMPeepholeConfig)(PeepholeLSTMCell)
