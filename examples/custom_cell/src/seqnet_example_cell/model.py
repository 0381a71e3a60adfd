"""``model=example_cell``: a leaky tanh RNN,

    h_t = (1 - leak) h_{t-1} + leak tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh).

With ``leak`` < 1 part of the state is carried over unchanged, so the gradient through time
decays more slowly than in the plain tanh RNN (``leak=1``). The cell is a ``seqnet.models.Cell``:
seqnet's step-by-step engine runs it, gradient probes included, and builds the encoder and head
around it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from seqnet.models import Cell, ModelConfig, State, register_model


class ExampleCell(Cell):
    state_names = ("h",)
    gate_count = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        leak: float = 0.5,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if not 0.0 < leak <= 1.0:
            raise ValueError(f"model.leak must be in (0, 1], got {leak}")
        self.leak = leak
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)

    def step(self, x_proj: Tensor, state: State, probe: State | None = None) -> State:
        (h,) = state
        candidate = torch.tanh(x_proj + F.linear(h, self.weight_hh, self.bias_hh))
        h = h + self.leak * (candidate - h)
        return (h,) if probe is None else (h + probe[0],)


@dataclass
class ExampleCellConfig(ModelConfig):
    """The schema of ``model=example_cell``: seqnet checks every key and type against it."""

    name: str = "example_cell"
    # Fraction of the state replaced at each step (1.0: the plain tanh RNN).
    leak: float = 0.5


register_model("example_cell", config=ExampleCellConfig)(ExampleCell)
