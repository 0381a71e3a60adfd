"""``model=lstm_cifg``: the LSTM with coupled input and forget gates, CIFG (Greff et al. 2017,
"LSTM: A Search Space Odyssey"): the input gate is i = 1 - f, so there are three gate blocks (f, g,
o):

    f = sigmoid(a_f)    g = tanh(a_g)    o = sigmoid(a_o)
    c_t = f * c_{t-1} + (1 - f) * g      h_t = o * tanh(c_t)

with a = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh. ``chrono_tmax`` sets only the forget bias (there
is no input gate of its own). It trains with the LSTM's whole-sequence kernel (``sequence``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from seqnet.models.cell import State
from seqnet.models.factory import register_model
from seqnet.models.kernels.lstm_family import lstm_sequence
from seqnet.models.options import EngineConfig, LSTMOptions
from seqnet.models.zoo.lstm import LSTMCell


class CIFGLSTMCell(LSTMCell):
    gate_count = 3
    forget_gate, input_gate = 0, None

    def step(self, x_proj: Tensor, state: State, probe: State | None = None) -> State:
        h, c = state
        gates = torch.addmm(x_proj, h, self.recurrent_weight())
        f, _, o = gates.sigmoid().chunk(3, dim=-1)
        H = self.hidden_size
        c_new = torch.lerp(gates[:, H : 2 * H].tanh(), c, f)  # f * c + (1 - f) * g
        return self.finish(state, c_new, lambda c_t: o * c_t.tanh(), probe)

    def sequence(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        # The LSTM's kernel with an input gate whose pre-activation is -a_f, since
        # sigmoid(-a) = 1 - sigmoid(a): i = 1 - f exactly, for a fourth of the gate work more
        # than a kernel of its own would do.
        x_proj, H = self.project_input(x), self.hidden_size
        coupled = torch.cat([-x_proj[..., :H], x_proj], dim=-1)
        weight = torch.cat([-self.weight_hh[:H], self.weight_hh])
        return lstm_sequence(self, coupled, state, weight_hh=weight)


@dataclass
class LSTMCIFGConfig(LSTMOptions, EngineConfig):
    name: str = "lstm_cifg"


register_model("lstm_cifg", config=LSTMCIFGConfig)(CIFGLSTMCell)
