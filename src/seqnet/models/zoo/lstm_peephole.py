"""``model=lstm_peephole``: the LSTM with peephole connections (Gers and Schmidhuber 2000): the
input and forget gates see the previous cell state, the output gate the new one, each through a
diagonal weight:

    i = sigmoid(a_i + w_ci * c_{t-1})     f = sigmoid(a_f + w_cf * c_{t-1})     g = tanh(a_g)
    c_t = f * c_{t-1} + i * g             o = sigmoid(a_o + w_co * c_t)         h_t = o * tanh(c_t)

with a = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh in PyTorch's gate order (i, f, g, o). The peephole
weights ``weight_ci``, ``weight_cf``, ``weight_co`` (hidden,) start as the other weights do,
U(-1/sqrt(H), 1/sqrt(H)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from seqnet.models.cell import State
from seqnet.models.factory import register_model
from seqnet.models.kernels.lstm_family import lstm_sequence
from seqnet.models.options import EngineConfig, LSTMOptions
from seqnet.models.zoo.lstm import LSTMCell


class PeepholeLSTMCell(LSTMCell):
    def extra_parameters(self, bias: bool, factory: dict[str, Any]) -> dict[str, nn.Parameter]:
        return {
            name: nn.Parameter(torch.empty(self.hidden_size, **factory))
            for name in ("weight_ci", "weight_cf", "weight_co")
        }

    def step(self, x_proj: Tensor, state: State, probe: State | None = None) -> State:
        h, c = state
        a_i, a_f, a_g, a_o = torch.addmm(x_proj, h, self.recurrent_weight()).chunk(4, dim=-1)
        i = torch.addcmul(a_i, self.weight_ci, c).sigmoid()
        f = torch.addcmul(a_f, self.weight_cf, c).sigmoid()
        c_new = torch.addcmul(f * c, i, a_g.tanh())

        def output(c_t: Tensor) -> Tensor:
            return torch.addcmul(a_o, self.weight_co, c_t).sigmoid() * c_t.tanh()

        return self.finish(state, c_new, output, probe)

    def sequence(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        peepholes = (self.weight_ci, self.weight_cf, self.weight_co)
        return lstm_sequence(self, self.project_input(x), state, peepholes=peepholes)


@dataclass
class LSTMPeepholeConfig(LSTMOptions, EngineConfig):
    name: str = "lstm_peephole"


register_model("lstm_peephole", config=LSTMPeepholeConfig)(PeepholeLSTMCell)
