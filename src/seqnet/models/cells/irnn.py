"""IRNN (Le, Jaitly and Hinton 2015): a ReLU RNN whose recurrent matrix starts as the identity
and whose biases start at zero, so that at initialisation the state is carried unchanged and the
gradient neither vanishes nor explodes through the recurrence. The input weights start
N(0, 0.001^2), as in the paper.
"""

from __future__ import annotations

import torch
from torch import nn

from seqnet.models.cells.init import init_recurrent
from seqnet.models.cells.rnn import RNNCell

INPUT_STD = 1e-3


class IRNNCell(RNNCell):
    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            input_size,
            hidden_size,
            bias,
            nonlinearity="relu",
            recurrent_init="identity",
            device=device,
            dtype=dtype,
        )

    def reset_parameters(self) -> None:
        nn.init.normal_(self.weight_ih, 0.0, INPUT_STD)
        init_recurrent(self.weight_hh, self.hidden_size, "identity")
        for bias in (self.bias_ih, self.bias_hh):
            if bias is not None:
                nn.init.zeros_(bias)
