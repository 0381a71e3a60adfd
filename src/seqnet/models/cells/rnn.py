"""Elman RNN cell: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), as torch.nn.RNNCell."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from seqnet.models.cells.base import Cell, State

_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


class RNNCell(Cell):
    state_names = ("h",)
    gate_count = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if nonlinearity not in _ACTIVATIONS:
            raise ValueError(
                f"RNNCell nonlinearity must be one of {sorted(_ACTIVATIONS)}, got {nonlinearity!r}"
            )
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)
        self._act = _ACTIVATIONS[nonlinearity]

    def step(self, x_proj: Tensor, state: State, probe: State | None = None) -> State:
        (h,) = state
        h = self._act(x_proj + F.linear(h, self.weight_hh, self.bias_hh))
        return (h,) if probe is None else (h + probe[0],)
