"""``model=lstm_cifg``: the LSTM with coupled input and forget gates, i = 1 - f (Greff et al.
2017), on the engine."""

from __future__ import annotations

from dataclasses import dataclass

from seqnet.models.cells.lstm_cifg import CIFGLSTMCell
from seqnet.models.options import LSTMFamilyConfig
from seqnet.models.registry import register_model


@dataclass
class LSTMCIFGConfig(LSTMFamilyConfig):
    name: str = "lstm_cifg"


register_model("lstm_cifg", config=LSTMCIFGConfig)(CIFGLSTMCell)
