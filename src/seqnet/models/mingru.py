"""``model=mingru``: minGRU (Feng et al. 2024), trained with the parallel scan."""

from __future__ import annotations

from dataclasses import dataclass

from seqnet.models.cells.mingru import MinGRUCell
from seqnet.models.registry import ModelConfig, register_model
from seqnet.models.scan import ScanRNN


@dataclass
class MinGRUConfig(ModelConfig):
    name: str = "mingru"
    # torch.compile the scan's elementwise math (training only; probes run eager): 1.3x faster
    # training steps for minGRU on CPU here, after a one-off compile of a few seconds.
    compile: bool = False


@register_model("mingru", config=MinGRUConfig)
class MinGRU(ScanRNN):
    cell_class = MinGRUCell
