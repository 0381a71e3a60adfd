"""``model=lstm``: the LSTM on PyTorch's fused ``nn.LSTM`` (or, by ``backend``, the engine)."""

from __future__ import annotations

from dataclasses import dataclass

from seqnet.models.cores import FusedLSTM
from seqnet.models.options import Backend, LSTMFamilyConfig
from seqnet.models.registry import register_model


@dataclass
class LSTMConfig(LSTMFamilyConfig):
    name: str = "lstm"
    backend: Backend = Backend.auto


register_model("lstm", config=LSTMConfig)(FusedLSTM)
