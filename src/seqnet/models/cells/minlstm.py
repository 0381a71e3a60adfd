"""minLSTM (Feng et al. 2024, "Were RNNs All We Needed?"): an LSTM whose gates and candidate
depend on the input only, with the gates normalised to sum to one, so that it trains with a
parallel scan (``models.scan``):

    f = sigmoid(k_f)    i = sigmoid(k_i)    f' = f / (f + i)    i' = i / (f + i)
    h_t = f' * h_{t-1} + i' * g(k_h)

with (k_f, k_i, k_h) = W_ih x_t + b_ih and g the paper's positive activation (x + 1/2 for
x >= 0, sigmoid(x) below), the log-space version of the paper. ``forget_bias`` and
``chrono_tmax`` act on b_f (and b_i) as for the LSTM. ``step`` is the sequential form (what the
gradient probes run); ``scan`` the whole sequence at once, in log space (the paper's parallel
scan) or in linear space (a vectorised time loop, faster on CPU), the same function.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from seqnet.models.cells.base import Cell, State, probed
from seqnet.models.scan import (
    block_linear,
    linear_recurrence,
    log_positive,
    positive,
    scan_with_decay,
)


class MinLSTMCell(Cell):
    state_names = ("h",)
    gate_count = 3
    recurrent = None
    forget_gate, input_gate = 0, 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        forget_bias: float = 1.0,
        chrono_tmax: float | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            input_size,
            hidden_size,
            bias,
            forget_bias=forget_bias,
            chrono_tmax=chrono_tmax,
            device=device,
            dtype=dtype,
        )

    def project_input(self, x: Tensor) -> Tensor:
        """(f'_t, g(k_h)_t) for every step: all the sequential step needs."""
        k_f, k_i, k_h = block_linear(x, self.weight_ih, self.bias_ih, self.gate_count)
        f, i = k_f.sigmoid(), k_i.sigmoid()
        return torch.cat((f / (f + i), positive(k_h)), dim=-1)

    def step(self, x_proj: Tensor, state: State, probe: State | None = None) -> State:
        (h,) = state
        f, candidate = x_proj.chunk(2, dim=-1)
        return probed((torch.lerp(candidate, h, f),), probe)  # f' * h + (1 - f') * h~

    def scan(self, x: Tensor, h0: Tensor | None = None, space: str = "log") -> Tensor:
        """All h_t for x (batch, time, input) at once, with a_t = f', b_t = i' * g(k_h). In log
        space, with d = log i - log f = softplus(-k_f) - softplus(-k_i): log f' = -softplus(d),
        log i' = d - softplus(d)."""
        k_f, k_i, k_h = block_linear(x, self.weight_ih, self.bias_ih, self.gate_count)
        if space == "linear":
            f, i = k_f.sigmoid(), k_i.sigmoid()
            forget = f / (f + i)
            return linear_recurrence(forget, (1 - forget) * positive(k_h), h0)
        d = F.softplus(-k_f) - F.softplus(-k_i)
        minus_log_f = F.softplus(d)
        decay = minus_log_f.cumsum(dim=1)
        return scan_with_decay(decay, d + log_positive(k_h) + (decay - minus_log_f), h0)
