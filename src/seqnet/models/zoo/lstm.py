"""``model=lstm``: the LSTM on PyTorch's fused ``nn.LSTM`` (``FusedLSTM``), or, by ``backend``
or with zoneout, on the engine: ``LSTMCell``, with PyTorch's gate order (input, forget, cell,
output), as torch.nn.LSTMCell.

``LSTMCell`` is also the base of the LSTM variants (peephole, CIFG, layer norm): they share its
options (``LSTMOptions``) and ``finish``, which applies zoneout and the probes in the right order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from seqnet.models.cell import Cell, State, probed
from seqnet.models.cores import FusedCore
from seqnet.models.factory import register_model
from seqnet.models.kernels.lstm_family import lstm_sequence
from seqnet.models.options import FusedConfig, LSTMOptions


class LSTMCell(Cell):
    Options = LSTMOptions
    state_names = ("h", "c")
    gate_count = 4
    input_gate, forget_gate = 0, 1

    def project_input(self, x: Tensor) -> Tensor:
        # Both biases are added once here rather than b_hh at every step.
        bias = None if self.bias_ih is None else self.bias_ih + self.bias_hh
        return F.linear(x, self.weight_ih, bias)

    def step(self, x_proj: Tensor, state: State, probe: State | None = None) -> State:
        h, c = state
        gates = torch.addmm(x_proj, h, self.recurrent_weight())
        # One sigmoid over all four blocks (the cell block's is unused) is cheaper than three.
        i, f, _, o = gates.sigmoid().chunk(4, dim=-1)
        H = self.hidden_size
        g = gates[:, 2 * H : 3 * H].tanh()
        c_new = torch.addcmul(f * c, i, g)
        return self.finish(state, c_new, lambda c_t: o * c_t.tanh(), probe)

    def sequence(self, x: Tensor, state: State) -> tuple[Tensor, State]:
        return lstm_sequence(self, self.project_input(x), state)

    def finish(
        self,
        state: State,
        c_new: Tensor,
        output: Callable[[Tensor], Tensor],
        probe: State | None,
    ) -> State:
        """The new state from the new cell state ``c_new`` and ``output(c_t) -> h_t``.

        Without zoneout the c probe is added before ``h_t`` is computed from ``c_t``, so it sees
        the path through ``h_t``. With zoneout (Krueger et al. 2017, eq. for the LSTM) ``h_t`` is
        the output of the un-zoned ``c_t``, then both states are zoned; the probes go on the
        zoned states, which are what the next step reads.
        """
        h, c = state
        if self.zoneout:
            h_new = output(c_new)
            return probed((self.zone(h, h_new), self.zone(c, c_new)), probe)
        if probe is not None:
            c_new = c_new + probe[1]
        h_new = output(c_new)
        return (h_new if probe is None else h_new + probe[0]), c_new


class FusedLSTM(FusedCore, nn.LSTM):
    cell_class = LSTMCell


@dataclass
class LSTMConfig(LSTMOptions, FusedConfig):
    name: str = "lstm"


register_model("lstm", config=LSTMConfig)(FusedLSTM)
