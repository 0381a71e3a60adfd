"""PLACEHOLDER (not committed): model=lstm_nog, the LSTM without an output gate."""

from dataclasses import dataclass

import torch
from torch import Tensor

from seqnet.models import EngineConfig, LSTMOptions, State, register_model
from seqnet.models.zoo.lstm import LSTMCell


class NoOutputGateLSTMCell(LSTMCell):
    gate_count = 3

    def step(self, x_proj: Tensor, state: State, probe: State | None = None) -> State:
        h, c = state
        i, f, g = torch.addmm(x_proj, h, self.recurrent_weight()).chunk(3, dim=-1)
        c_new = f.sigmoid() * c + i.sigmoid() * g.tanh()
        return self.finish(state, c_new, torch.tanh, probe)


@dataclass
class LSTMNOGConfig(LSTMOptions, EngineConfig):
    name: str = "lstm_nog"


register_model("lstm_nog", config=LSTMNOGConfig)(NoOutputGateLSTMCell)
