"""A parallel scan for linear recurrences, and ``ScanRNN``, the core that trains minGRU/minLSTM
with it.

minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?") have gates that depend on the
input only, so their recurrence is linear in the state: h_t = a_t * h_{t-1} + b_t with a_t in
(0, 1) and b_t > 0 known for every t before the loop starts. Its solution is

    h_t = A_t * h_0 + A_t * sum_{k <= t} b_k / A_k,        A_t = a_1 * ... * a_t,

which ``log_linear_scan`` computes for the whole sequence at once in log space (a cumulative
sum and a ``logcumsumexp``, as in the paper), with no per-step Python loop. The h_0 term is
added outside the logarithm, so h_0 may have any sign (a given ``hx``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from seqnet.models.cores import Hidden, StepRNN
from seqnet.models.engine import Probes


def log_linear_scan(log_a: Tensor, log_b: Tensor, h0: Tensor | None = None) -> Tensor:
    """All h_t of h_t = a_t * h_{t-1} + b_t along dim 1, from log a_t and log b_t (batch, time,
    hidden) and h_0 (batch, hidden; None: zero)."""
    log_a_star = log_a.cumsum(dim=1)
    h = torch.exp(log_a_star + torch.logcumsumexp(log_b - log_a_star, dim=1))
    if h0 is not None:
        h = h + torch.exp(log_a_star) * h0.unsqueeze(1)
    return h


def positive(x: Tensor) -> Tensor:
    """g(x) = x + 1/2 for x >= 0, sigmoid(x) below: the paper's positive, continuous activation
    for the candidate state, so that b_t > 0 has a logarithm."""
    return torch.where(x >= 0, x + 0.5, x.sigmoid())


def log_positive(x: Tensor) -> Tensor:
    """log g(x), computed without forming g(x) where it would lose precision."""
    return torch.where(x >= 0, (F.relu(x) + 0.5).log(), -F.softplus(-x))


class ScanRNN(StepRNN):
    """A multi-layer core for a cell with a linear recurrence (``cell_class.scan``): trained with
    the parallel scan; with probes attached it runs the cell's sequential ``step`` on the engine
    (the same function, which the tests check to 1e-10 in float64, gradients included).

    A model registers a subclass that names its cell: ``class MinGRU(ScanRNN): cell_class =
    MinGRUCell``; it has the ``torch.nn.LSTM`` constructor.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        **cell_options: Any,
    ) -> None:
        super().__init__(
            type(self).cell_class,
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            **cell_options,
        )

    def forward(
        self, input: Tensor, hx: Hidden | None = None, probes: Probes | None = None
    ) -> tuple[Tensor, Hidden]:
        if probes is not None:
            return self.forward_stepped(input, hx, probes)
        return self.forward_scan(input, hx)

    def forward_scan(self, input: Tensor, hx: Hidden | None = None) -> tuple[Tensor, Hidden]:
        """The parallel form: same signature and result as ``forward_stepped``."""
        x = input if self.batch_first else input.transpose(0, 1)
        initial = self._split_hidden(hx)
        finals = []
        for layer, cell in enumerate(self.cells()):
            if layer > 0 and self.dropout > 0.0 and self.training:
                x = F.dropout(x, self.dropout, training=True)
            h0 = None if initial is None else initial[layer][0]
            x = cell.scan(x, h0)
            finals.append((x[:, -1],))
        output = x if self.batch_first else x.transpose(0, 1)
        return output, self._join_hidden(finals)
