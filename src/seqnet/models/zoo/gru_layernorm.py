"""``model=gru_layernorm``: the layer-normalised GRU, the GRU counterpart of ``LayerNormLSTMCell``
(Ba, Kiros and Hinton 2016): the input and the recurrent pre-activations are normalised separately,
over all three gate blocks together, before the GRU's usual equations (PyTorch's gate order r, z,
n):

    a = LN(W_ih x_t) * gain_ih + b_ih          b = LN(W_hh h_{t-1}) * gain_hh + b_hh
    r = sigmoid(a_r + b_r)    z = sigmoid(a_z + b_z)    n = tanh(a_n + r * b_n)
    h_t = (1 - z) * n + z * h_{t-1}

The gains start at 1; the biases are the shifts of the norms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from seqnet.models.cell import State
from seqnet.models.factory import register_model
from seqnet.models.kernels.gru_family import gru_sequence
from seqnet.models.options import EngineConfig, GatedOptions
from seqnet.models.zoo.gru import GRUCell

EPS = 1e-5


class LayerNormGRUCell(GRUCell):
    def extra_parameters(
        self, bias: bool, factory: dict[str, Any]
    ) -> dict[str, nn.Parameter | None]:
        gates = self.gate_count * self.hidden_size
        return {
            "gain_ih": nn.Parameter(torch.empty(gates, **factory)),
            "gain_hh": nn.Parameter(torch.empty(gates, **factory)),
        }

    def reset_parameters(self) -> None:
        super().reset_parameters()
        with torch.no_grad():
            self.gain_ih.fill_(1.0)
            self.gain_hh.fill_(1.0)

    def project_input(self, x: Tensor) -> Tensor:
        # b_ih as the norm's shift: one pass over the sequence's gates fewer than adding it after.
        gates = F.linear(x, self.weight_ih)
        return F.layer_norm(gates, self.gain_ih.shape, self.gain_ih, self.bias_ih, EPS)

    def recurrent_input(self, h: Tensor) -> Tensor:
        b = F.layer_norm(h @ self.recurrent_weight(), self.gain_hh.shape, self.gain_hh, eps=EPS)
        return b if self.bias_hh is None else b + self.bias_hh

    def sequence(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        return gru_sequence(self, self.project_input(x), state, layer_norm=(self.gain_hh, EPS))


@dataclass
class GRULayerNormConfig(GatedOptions, EngineConfig):
    name: str = "gru_layernorm"


register_model("gru_layernorm", config=GRULayerNormConfig)(LayerNormGRUCell)
