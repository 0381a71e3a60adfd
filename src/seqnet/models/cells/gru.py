"""GRU cell with PyTorch's equations and gate order (reset, update, new), as torch.nn.GRUCell."""

from __future__ import annotations

import torch
from torch import Tensor

from seqnet.models.cells.base import Cell, State, probed
from seqnet.models.cells.gru_sequence import gru_sequence


class GRUCell(Cell):
    state_names = ("h",)
    gate_count = 3

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        zoneout: float = 0.0,
        recurrent_init: str = "default",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            input_size,
            hidden_size,
            bias,
            zoneout=zoneout,
            recurrent_init=recurrent_init,
            device=device,
            dtype=dtype,
        )

    def step(self, x_proj: Tensor, state: State, probe: State | None = None) -> State:
        (h,) = state
        return probed((self.zone(h, self.update(x_proj, h, self.recurrent_input(h))),), probe)

    def sequence(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        return gru_sequence(self, self.project_input(x), state)

    def recurrent_input(self, h: Tensor) -> Tensor:
        if self.bias_hh is None:
            return h @ self.recurrent_weight()
        return torch.addmm(self.bias_hh, h, self.recurrent_weight())

    def update(self, x_proj: Tensor, h: Tensor, h_proj: Tensor) -> Tensor:
        """The GRU update from the projected input and the projected previous state."""
        H2 = 2 * self.hidden_size
        r, z = (x_proj[:, :H2] + h_proj[:, :H2]).sigmoid().chunk(2, dim=-1)
        # b_hn stays inside the reset gate's product, as in PyTorch (and cuDNN).
        n = torch.addcmul(x_proj[:, H2:], r, h_proj[:, H2:]).tanh()
        return torch.lerp(n, h, z)  # (1 - z) * n + z * h
