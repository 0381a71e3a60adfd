"""LSTM cell with PyTorch's gate order (input, forget, cell, output), as torch.nn.LSTMCell."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from seqnet.models.cells.base import Cell, State


class LSTMCell(Cell):
    state_names = ("h", "c")
    gate_count = 4

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        forget_bias: float = 1.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.forget_bias = forget_bias
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        init_forget_bias(self.bias_ih, self.bias_hh, self.hidden_size, self.forget_bias)

    def step(self, x_proj: Tensor, state: State, probe: State | None = None) -> State:
        h, c = state
        gates = x_proj + F.linear(h, self.weight_hh, self.bias_hh)
        i, f, g, o = gates.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        if probe is not None:
            c = c + probe[1]  # before h_t uses c_t, so the c probe sees the path through h_t
        h = torch.sigmoid(o) * torch.tanh(c)
        if probe is not None:
            h = h + probe[0]
        return h, c


@torch.no_grad()
def init_forget_bias(
    bias_ih: torch.Tensor | None, bias_hh: torch.Tensor | None, hidden_size: int, value: float
) -> None:
    """Set the forget-gate bias to ``value`` once: in ``bias_ih``, with ``bias_hh``'s block at 0.

    The effective bias is the sum of the two vectors, so writing ``value`` into both would
    double it.
    """
    if bias_ih is None or bias_hh is None:
        return
    forget = slice(hidden_size, 2 * hidden_size)
    bias_ih[forget] = value
    bias_hh[forget] = 0.0
