"""``model=gru``: the GRU on PyTorch's fused ``nn.GRU`` (``FusedGRU``), or on the engine where
that is faster, by ``backend`` or with zoneout: ``GRUCell``, with PyTorch's equations and gate
order (reset, update, new), as torch.nn.GRUCell."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from seqnet.models.cell import Cell, State, probed
from seqnet.models.cores import FusedCore
from seqnet.models.factory import register_model
from seqnet.models.kernels.gru_family import gru_sequence
from seqnet.models.options import FusedConfig, GatedOptions


class GRUCell(Cell):
    Options = GatedOptions
    state_names = ("h",)
    gate_count = 3

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


class FusedGRU(FusedCore, nn.GRU):
    cell_class = GRUCell
    # The GRU's whole-sequence kernel trained faster than the fused nn.GRU on CPU, cuDNN is
    # faster on GPU (scripts/bench.py --only backends; the docs' performance page).
    engine_faster_on = frozenset({"cpu"})


@dataclass
class GRUConfig(GatedOptions, FusedConfig):
    name: str = "gru"


register_model("gru", config=GRUConfig)(FusedGRU)
