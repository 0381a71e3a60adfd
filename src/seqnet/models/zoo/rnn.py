"""``model=rnn``: the vanilla (Elman) RNN, tanh or ReLU,

    h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),

on PyTorch's fused ``nn.RNN`` (``FusedRNN``), or, by ``backend``, on the engine (``RNNCell``, as
torch.nn.RNNCell).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from seqnet.models.cell import Cell, State, probed
from seqnet.models.cores import FusedCore
from seqnet.models.factory import register_model
from seqnet.models.options import FusedConfig, Nonlinearity, RecurrentInit

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"tanh": torch.tanh, "relu": torch.relu}


def check_nonlinearity(nonlinearity: str, cell_name: str) -> None:
    if nonlinearity not in ACTIVATIONS:
        raise ValueError(
            f"{cell_name} nonlinearity must be one of {sorted(ACTIVATIONS)}, got {nonlinearity!r}"
        )


@dataclass
class RNNOptions:
    nonlinearity: Nonlinearity = Nonlinearity.tanh
    recurrent_init: RecurrentInit = RecurrentInit.default


class RNNCell(Cell):
    Options = RNNOptions
    state_names = ("h",)
    gate_count = 1
    nonlinearity: str

    def check_options(self) -> None:
        check_nonlinearity(self.nonlinearity, type(self).__name__)

    def project_input(self, x: Tensor) -> Tensor:
        # Both biases are added once here rather than b_hh at every step.
        bias = None if self.bias_ih is None else self.bias_ih + self.bias_hh
        return F.linear(x, self.weight_ih, bias)

    def step(self, x_proj: Tensor, state: State, probe: State | None = None) -> State:
        (h,) = state
        act = ACTIVATIONS[self.nonlinearity]
        return probed((act(torch.addmm(x_proj, h, self.recurrent_weight())),), probe)


class FusedRNN(FusedCore, nn.RNN):
    cell_class = RNNCell
    # nn.RNN takes the nonlinearity itself; the cell reads it back from there.
    fused_options = ("nonlinearity",)


@dataclass
class RNNConfig(RNNOptions, FusedConfig):
    name: str = "rnn"


register_model("rnn", config=RNNConfig)(FusedRNN)
