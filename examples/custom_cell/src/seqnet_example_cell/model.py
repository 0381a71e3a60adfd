"""``model=example_cell``: a leaky tanh RNN,

    h_t = (1 - leak) h_{t-1} + leak tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh).

With ``leak`` < 1 part of the state is carried over unchanged, so the gradient through time
decays more slowly than in the plain tanh RNN (``leak=1``). The cell is a ``seqnet.models.Cell``:
seqnet's step-by-step engine runs it, gradient probes included, and builds the encoder and head
around it. Its options are one dataclass (``LeakyOptions``, which holds their defaults): the cell
takes them as keywords and the config is made of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from seqnet.models import Cell, EngineConfig, State, register_model


@dataclass
class LeakyOptions:
    # Fraction of the state replaced at each step (1.0: the plain tanh RNN).
    leak: float = 0.5


class ExampleCell(Cell):
    Options = LeakyOptions
    state_names = ("h",)
    gate_count = 1
    leak: float

    def check_options(self) -> None:
        if not 0.0 < self.leak <= 1.0:
            raise ValueError(f"model.leak must be in (0, 1], got {self.leak}")

    def step(self, x_proj: Tensor, state: State, probe: State | None = None) -> State:
        (h,) = state
        candidate = torch.tanh(x_proj + F.linear(h, self.weight_hh, self.bias_hh))
        h = h + self.leak * (candidate - h)
        return (h,) if probe is None else (h + probe[0],)


@dataclass
class ExampleCellConfig(LeakyOptions, EngineConfig):
    """The schema of ``model=example_cell``: seqnet checks every key and type against it."""

    name: str = "example_cell"


register_model("example_cell", config=ExampleCellConfig)(ExampleCell)
