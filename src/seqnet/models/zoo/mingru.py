"""``model=mingru``: minGRU (Feng et al. 2024, "Were RNNs All We Needed?"): a GRU whose gate and
candidate depend on the input only, so that it trains with a parallel scan (``models.scan``):

    z_t = sigmoid(k_z)       h~_t = g(k_h)       h_t = (1 - z_t) * h_{t-1} + z_t * h~_t

with (k_z, k_h) = W_ih x_t + b_ih and g the paper's positive activation (x + 1/2 for x >= 0,
sigmoid(x) below), the log-space version of the paper. ``step`` is the sequential form (what the
gradient probes run); ``scan`` the whole sequence at once, in log space (the paper's parallel
scan) or in linear space (a vectorised time loop, faster on CPU), the same function.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from seqnet.models.cell import Cell, State, probed
from seqnet.models.factory import register_model
from seqnet.models.options import EngineConfig
from seqnet.models.scan import (
    ScanRNN,
    block_linear,
    linear_recurrence_time_major,
    log_positive,
    positive,
    scan_with_decay,
)


class MinGRUCell(Cell):
    state_names = ("h",)
    gate_count = 2
    recurrent = None

    def project_input(self, x: Tensor) -> Tensor:
        """(z_t, h~_t) for every step: all the sequential step needs."""
        k_z, k_h = self.gate_inputs(x)
        return torch.cat((k_z.sigmoid(), positive(k_h)), dim=-1)

    def gate_inputs(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(k_z, k_h) = W_ih x + b_ih, one contiguous tensor each (elementwise ops on the
        halves of one tensor were several times slower)."""
        return block_linear(x, self.weight_ih, self.bias_ih, self.gate_count)

    def step(self, x_proj: Tensor, state: State, probe: State | None = None) -> State:
        (h,) = state
        z, candidate = x_proj.chunk(2, dim=-1)
        return probed((torch.lerp(h, candidate, z),), probe)  # h + z * (h~ - h)

    def scan(self, x: Tensor, h0: Tensor | None = None, space: str = "log") -> Tensor:
        """All h_t for x (batch, time, input) at once, with a_t = 1 - z_t, b_t = z_t * g(k_h).
        In log space: log a_t = -softplus(k_z) and log b_t = log z_t + log g(k_h), with
        log z_t = k_z - softplus(k_z)."""
        if space == "linear":  # gates made time-major, the recurrence loop's layout
            k_z, k_h = self.gate_inputs(x.transpose(0, 1))
            z = k_z.sigmoid()
            return linear_recurrence_time_major(1 - z, z * positive(k_h), h0).transpose(0, 1)
        k_z, k_h = self.gate_inputs(x)
        minus_log_a = F.softplus(k_z)
        decay = minus_log_a.cumsum(dim=1)
        return scan_with_decay(decay, k_z + log_positive(k_h) + (decay - minus_log_a), h0)


@dataclass
class MinGRUConfig(EngineConfig):
    name: str = "mingru"


@register_model("mingru", config=MinGRUConfig)
class MinGRU(ScanRNN):
    cell_class = MinGRUCell
