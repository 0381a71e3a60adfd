"""``model=indrnn``: the independently recurrent network, IndRNN (Li et al. 2018): each unit sees
only its own previous value, through a recurrent *vector* u (``weight_hh``, shape (hidden,)):

    h_t = act(W_ih x_t + b_ih + u * h_{t-1})

``recurrent_max=T`` keeps |u| <= 2^(1/T) (u is clipped in the forward pass, so the gradient of a
clipped entry is 0): over T steps a unit's gradient can then grow by at most a factor 2, the
bound Li et al. use on the adding problem. u starts U(0, 1), W_ih and b_ih as PyTorch's default.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from seqnet.models.cell import Cell, State, probed
from seqnet.models.factory import register_model
from seqnet.models.options import EngineConfig, Nonlinearity
from seqnet.models.zoo.rnn import ACTIVATIONS, check_nonlinearity


@dataclass
class IndRNNOptions:
    nonlinearity: Nonlinearity = Nonlinearity.relu
    # T: keep |u| <= 2^(1/T), so a unit's gradient grows at most 2x over T steps; null = off.
    recurrent_max: int | None = None


class IndRNNCell(Cell):
    Options = IndRNNOptions
    state_names = ("h",)
    gate_count = 1
    recurrent = "vector"
    nonlinearity: str
    recurrent_max: int | None

    def check_options(self) -> None:
        check_nonlinearity(self.nonlinearity, type(self).__name__)
        if self.recurrent_max is not None and not self.recurrent_max > 0:
            raise ValueError(
                f"model.recurrent_max={self.recurrent_max} must be a positive number of "
                "timesteps T (|u| is kept <= 2^(1/T)), or null for no constraint"
            )

    @property
    def bound(self) -> float | None:
        """2^(1/T) for ``recurrent_max=T``, the bound on |u|; None without it."""
        return None if self.recurrent_max is None else 2.0 ** (1.0 / self.recurrent_max)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        nn.init.uniform_(self.weight_hh, 0.0, 1.0)

    def prepare_recurrent_weight(self) -> Tensor:
        """u, clipped to [-2^(1/T), 2^(1/T)] with ``recurrent_max=T`` (once per pass)."""
        bound = self.bound
        return self.weight_hh if bound is None else self.weight_hh.clamp(-bound, bound)

    def step(self, x_proj: Tensor, state: State, probe: State | None = None) -> State:
        (h,) = state
        u = self.recurrent_weight()
        act = ACTIVATIONS[self.nonlinearity]
        return probed((act(torch.addcmul(x_proj, u, h)),), probe)


@dataclass
class IndRNNConfig(IndRNNOptions, EngineConfig):
    name: str = "indrnn"


register_model("indrnn", config=IndRNNConfig)(IndRNNCell)
