"""``model=lstm``: the LSTM on PyTorch's fused ``nn.LSTM``, with a forget-gate bias."""

from __future__ import annotations

from dataclasses import dataclass

from seqnet.models.cores import FusedLSTM
from seqnet.models.registry import ModelConfig, register_model


@dataclass
class LSTMConfig(ModelConfig):
    name: str = "lstm"
    # Initial forget-gate bias (Gers et al. 2000; Jozefowicz et al. 2015): set once, in bias_ih.
    forget_bias: float = 1.0


register_model("lstm", config=LSTMConfig)(FusedLSTM)
