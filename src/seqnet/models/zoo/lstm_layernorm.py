"""``model=lstm_layernorm``: the layer-normalised LSTM (Ba, Kiros and Hinton 2016): the input and
the recurrent gate pre-activations are normalised separately (over all four gate blocks together),
and so is the cell state on its way to the output:

    a = LN(W_ih x_t) * gain_ih + b_ih + LN(W_hh h_{t-1}) * gain_hh + b_hh      (i, f, g, o)
    c_t = sigmoid(a_f) * c_{t-1} + sigmoid(a_i) * tanh(a_g)
    h_t = sigmoid(a_o) * tanh(LN(c_t) * gain_c + bias_c)

LN(v) = (v - mean(v)) / sqrt(var(v) + 1e-5) over the feature dimension. The gains start at 1 and
``bias_c`` at 0; the biases b_ih, b_hh play the role of the shifts of the first two norms (so the
forget bias and chrono initialisation keep their meaning). The cell state carried to the next
step is the un-normalised c_t.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from seqnet.models.cell import State
from seqnet.models.factory import register_model
from seqnet.models.kernels.lstm_family import lstm_sequence
from seqnet.models.options import EngineConfig, LSTMOptions
from seqnet.models.zoo.lstm import LSTMCell

EPS = 1e-5


class LayerNormLSTMCell(LSTMCell):
    def extra_parameters(
        self, bias: bool, factory: dict[str, Any]
    ) -> dict[str, nn.Parameter | None]:
        gates, H = self.gate_count * self.hidden_size, self.hidden_size
        return {
            "gain_ih": nn.Parameter(torch.empty(gates, **factory)),
            "gain_hh": nn.Parameter(torch.empty(gates, **factory)),
            "gain_c": nn.Parameter(torch.empty(H, **factory)),
            "bias_c": nn.Parameter(torch.empty(H, **factory)) if bias else None,
        }

    def reset_parameters(self) -> None:
        super().reset_parameters()
        with torch.no_grad():
            for gain in (self.gain_ih, self.gain_hh, self.gain_c):
                gain.fill_(1.0)
            if self.bias_c is not None:
                self.bias_c.zero_()

    def project_input(self, x: Tensor) -> Tensor:
        # Both biases are added once here, as the norm's shift (one pass over the sequence's
        # gates fewer than adding them after it), rather than b_hh at every step.
        bias = None if self.bias_ih is None else self.bias_ih + self.bias_hh
        return F.layer_norm(
            F.linear(x, self.weight_ih), self.gain_ih.shape, self.gain_ih, bias, EPS
        )

    def step(self, x_proj: Tensor, state: State, probe: State | None = None) -> State:
        h, c = state
        recurrent = F.layer_norm(
            h @ self.recurrent_weight(), self.gain_hh.shape, self.gain_hh, eps=EPS
        )
        gates = x_proj + recurrent
        i, f, _, o = gates.sigmoid().chunk(4, dim=-1)
        H = self.hidden_size
        c_new = torch.addcmul(f * c, i, gates[:, 2 * H : 3 * H].tanh())

        def output(c_t: Tensor) -> Tensor:
            return o * F.layer_norm(c_t, (H,), self.gain_c, self.bias_c, eps=EPS).tanh()

        return self.finish(state, c_new, output, probe)

    def sequence(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        norms = (self.gain_hh, self.gain_c, self.bias_c, EPS)
        return lstm_sequence(self, self.project_input(x), state, layer_norm=norms)


@dataclass
class LSTMLayerNormConfig(LSTMOptions, EngineConfig):
    name: str = "lstm_layernorm"


register_model("lstm_layernorm", config=LSTMLayerNormConfig)(LayerNormLSTMCell)
