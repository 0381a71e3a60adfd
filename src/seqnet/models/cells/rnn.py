"""Elman RNN cell: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh), as torch.nn.RNNCell."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.nn import functional as F

from seqnet.models.cells.base import Cell, State, probed

_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


def activation(nonlinearity: str, cell_name: str) -> Callable[[Tensor], Tensor]:
    if nonlinearity not in _ACTIVATIONS:
        raise ValueError(
            f"{cell_name} nonlinearity must be one of {sorted(_ACTIVATIONS)}, got {nonlinearity!r}"
        )
    return _ACTIVATIONS[nonlinearity]


class RNNCell(Cell):
    state_names = ("h",)
    gate_count = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        recurrent_init: str = "default",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self._act = activation(nonlinearity, type(self).__name__)
        self.nonlinearity = nonlinearity
        super().__init__(
            input_size, hidden_size, bias, recurrent_init=recurrent_init, device=device, dtype=dtype
        )

    def project_input(self, x: Tensor) -> Tensor:
        # Both biases are added once here rather than b_hh at every step.
        bias = None if self.bias_ih is None else self.bias_ih + self.bias_hh
        return F.linear(x, self.weight_ih, bias)

    def step(self, x_proj: Tensor, state: State, probe: State | None = None) -> State:
        (h,) = state
        return probed((self._act(torch.addmm(x_proj, h, self.recurrent_weight())),), probe)
