"""``model=lstm_nog``: the LSTM without an output gate, "NOG" in Greff et al. 2017 (LSTM: A Search
Space Odyssey). The output is the squashed cell state itself:

    i = sigmoid(a_i)      f = sigmoid(a_f)      g = tanh(a_g)
    c_t = f * c_{t-1} + i * g                   h_t = tanh(c_t)

with a = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh in PyTorch's gate order, less the output gate:
(i, f, g). As a subclass of seqnet's ``LSTMCell`` it keeps the LSTM's options (forget_bias,
chrono_tmax, zoneout, recurrent_init) and its ``finish``, which applies zoneout and the gradient
probes in the right order; it writes only its own ``step``. seqnet's engine runs it, and builds
the encoder and the read-out around it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from seqnet.models import EngineConfig, LSTMCell, LSTMOptions, State, register_model


class NoOutputGateLSTMCell(LSTMCell):
    gate_count = 3  # (i, f, g): the LSTM's blocks without the output gate

    def step(self, x_proj: Tensor, state: State, probe: State | None = None) -> State:
        h, c = state
        a_i, a_f, a_g = torch.addmm(x_proj, h, self.recurrent_weight()).chunk(3, dim=-1)
        c_new = torch.addcmul(a_f.sigmoid() * c, a_i.sigmoid(), a_g.tanh())
        return self.finish(state, c_new, torch.tanh, probe)


@dataclass
class LSTMNOGConfig(LSTMOptions, EngineConfig):
    """The schema of ``model=lstm_nog``: the LSTM's options on seqnet's engine."""

    name: str = "lstm_nog"


register_model("lstm_nog", config=LSTMNOGConfig)(NoOutputGateLSTMCell)
