"""``model=lstm_layernorm``: the layer-normalised LSTM (Ba, Kiros and Hinton 2016), on the
engine."""

from __future__ import annotations

from dataclasses import dataclass

from seqnet.models.cells.lstm_layernorm import LayerNormLSTMCell
from seqnet.models.options import LSTMFamilyConfig
from seqnet.models.registry import register_model


@dataclass
class LSTMLayerNormConfig(LSTMFamilyConfig):
    name: str = "lstm_layernorm"


register_model("lstm_layernorm", config=LSTMLayerNormConfig)(LayerNormLSTMCell)
