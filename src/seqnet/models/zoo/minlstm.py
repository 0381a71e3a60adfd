"""``model=minlstm``: minLSTM (Feng et al. 2024, "Were RNNs All We Needed?"): an LSTM whose gates
and candidate depend on the input only, with the gates normalised to sum to one, so that it trains
with a parallel scan (``models.scan``):

    f = sigmoid(k_f)    i = sigmoid(k_i)    f' = f / (f + i)    i' = i / (f + i)
    h_t = f' * h_{t-1} + i' * g(k_h)

with (k_f, k_i, k_h) = W_ih x_t + b_ih and g the paper's positive activation (x + 1/2 for
x >= 0, sigmoid(x) below), the log-space version of the paper. ``forget_bias`` and
``chrono_tmax`` act on b_f (and b_i) as for the LSTM. ``step`` is the sequential form (what the
gradient probes run); ``scan`` the whole sequence at once, in log space (the paper's parallel
scan) or in linear space (a vectorised time loop, faster on CPU), the same function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from seqnet.models.cell import Cell, State, probed
from seqnet.models.factory import register_model
from seqnet.models.options import EngineConfig, ForgetGateOptions
from seqnet.models.scan import (
    ScanRNN,
    block_linear,
    linear_recurrence_time_major,
    log_positive,
    positive,
    positive_backward,
    positive_parts,
    scan_with_decay,
)


class MinLSTMCell(Cell):
    state_names = ("h",)
    gate_count = 3
    recurrent = None
    forget_gate, input_gate = 0, 1
    Options = ForgetGateOptions

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
        if space == "linear":  # gates made time-major, the recurrence loop's layout
            gates = block_linear(x.transpose(0, 1), self.weight_ih, self.bias_ih, self.gate_count)
            forget, b = linear_gates(*gates)
            return linear_recurrence_time_major(forget, b, h0).transpose(0, 1)
        k_f, k_i, k_h = block_linear(x, self.weight_ih, self.bias_ih, self.gate_count)
        d = F.softplus(-k_f) - F.softplus(-k_i)
        minus_log_f = F.softplus(d)
        decay = minus_log_f.cumsum(dim=1)
        return scan_with_decay(decay, d + log_positive(k_h) + (decay - minus_log_f), h0)


def linear_gates(k_f: Tensor, k_i: Tensor, k_h: Tensor) -> tuple[Tensor, Tensor]:
    """(a_t, b_t) = (f', i' * g(k_h)) from the gate pre-activations: ``_LinearGates``, or,
    compiled (``model.compile``), the plain formulas, which inductor fuses itself (see
    ``scan.positive`` for why compiled code avoids the written-out backward)."""
    if torch.compiler.is_compiling():
        f, i = k_f.sigmoid(), k_i.sigmoid()
        forget = f / (f + i)
        return forget, (1 - forget) * positive(k_h)
    return _LinearGates.apply(k_f, k_i, k_h)


class _LinearGates(torch.autograd.Function):
    """(k_f, k_i, k_h) -> (a_t, b_t) = (f', i' * g(k_h)) for the linear-space scan, with the
    derivatives written out: with w = (dL/da - dL/db * g) * f' * i',

        dL/dk_f = w * (1 - f)    dL/dk_i = -w * (1 - i)    dL/dk_h = dL/db * i' * g'(k_h)

    which takes 10 passes over the gate tensors where autograd's chain of sigmoids, division
    and clamps took about 20. Checked
    against autograd by the scan tests (1e-10 in float64, gradients included)."""

    @staticmethod
    def forward(ctx: Any, k_f: Tensor, k_i: Tensor, k_h: Tensor) -> tuple[Tensor, Tensor]:
        f, i = k_f.sigmoid(), k_i.sigmoid()
        total = f + i
        forget, keep_new = f / total, i / total  # f', i' = 1 - f'
        g, s = positive_parts(k_h)
        ctx.save_for_backward(f, i, forget, keep_new, g, s, k_h >= 0)
        return forget, keep_new.mul(g)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_a: Tensor, grad_b: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        f, i, forget, keep_new, g, s, nonneg = ctx.saved_tensors
        w = torch.addcmul(grad_a, grad_b, g, value=-1).mul_(forget).mul_(keep_new)
        grad_k_f = torch.addcmul(w, w, f, value=-1)
        grad_k_i = torch.mul(w, i).sub_(w)
        grad_k_h = positive_backward(grad_b, s, nonneg).mul_(keep_new)
        return grad_k_f, grad_k_i, grad_k_h


@dataclass
class MinLSTMConfig(ForgetGateOptions, EngineConfig):
    name: str = "minlstm"


@register_model("minlstm", config=MinLSTMConfig)
class MinLSTM(ScanRNN):
    cell_class = MinLSTMCell
