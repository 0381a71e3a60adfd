"""``model=mingru``: minGRU (Feng et al. 2024), trained with the parallel scan."""

from __future__ import annotations

from dataclasses import dataclass

from seqnet.models.cells.mingru import MinGRUCell
from seqnet.models.options import ScanConfig
from seqnet.models.registry import register_model
from seqnet.models.scan import ScanRNN


@dataclass
class MinGRUConfig(ScanConfig):
    name: str = "mingru"


@register_model("mingru", config=MinGRUConfig)
class MinGRU(ScanRNN):
    cell_class = MinGRUCell
