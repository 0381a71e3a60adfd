"""``model=minlstm``: minLSTM (Feng et al. 2024), trained with the parallel scan."""

from __future__ import annotations

from dataclasses import dataclass

from seqnet.models.cells.minlstm import MinLSTMCell
from seqnet.models.options import ScanConfig
from seqnet.models.registry import register_model
from seqnet.models.scan import ScanRNN


@dataclass
class MinLSTMConfig(ScanConfig):
    name: str = "minlstm"
    # As for the LSTM family: the initial forget bias, and chrono initialisation (null = off).
    forget_bias: float = 1.0
    chrono_tmax: int | None = None


@register_model("minlstm", config=MinLSTMConfig)
class MinLSTM(ScanRNN):
    cell_class = MinLSTMCell
