"""``model=irnn``: the IRNN (Le, Jaitly and Hinton 2015): a ReLU RNN whose recurrent matrix starts
as the identity and whose biases start at zero, so that at initialisation the state is carried
unchanged and the gradient neither vanishes nor explodes through the recurrence. The input weights
start N(0, 0.001^2), as in the paper."""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from seqnet.models.factory import register_model
from seqnet.models.init import init_recurrent
from seqnet.models.options import EngineConfig, NoOptions
from seqnet.models.zoo.rnn import RNNCell

INPUT_STD = 1e-3


class IRNNCell(RNNCell):
    # Fixed by the definition: a ReLU RNN started at the identity. No options of its own.
    Options = NoOptions
    nonlinearity = "relu"
    recurrent_init = "identity"

    def reset_parameters(self) -> None:
        nn.init.normal_(self.weight_ih, 0.0, INPUT_STD)
        init_recurrent(self.weight_hh, self.hidden_size, "identity")
        for bias in (self.bias_ih, self.bias_hh):
            if bias is not None:
                nn.init.zeros_(bias)


@dataclass
class IRNNConfig(EngineConfig):
    name: str = "irnn"


register_model("irnn", config=IRNNConfig)(IRNNCell)
