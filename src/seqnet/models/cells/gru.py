"""GRU cell with PyTorch's equations and gate order (reset, update, new), as torch.nn.GRUCell."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from seqnet.models.cells.base import Cell, State


class GRUCell(Cell):
    state_names = ("h",)
    gate_count = 3

    def step(self, x_proj: Tensor, state: State, probe: State | None = None) -> State:
        (h,) = state
        h_proj = F.linear(h, self.weight_hh, self.bias_hh)
        x_r, x_z, x_n = x_proj.chunk(3, dim=-1)
        h_r, h_z, h_n = h_proj.chunk(3, dim=-1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        # b_hn stays inside the reset gate's product, as in PyTorch (and cuDNN).
        n = torch.tanh(x_n + r * h_n)
        h = n + z * (h - n)
        return (h,) if probe is None else (h + probe[0],)
