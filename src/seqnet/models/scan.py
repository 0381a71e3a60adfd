"""Scans for linear recurrences, and ``ScanRNN``, the core that trains minGRU/minLSTM with them.

minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?") have gates that depend on the
input only, so their recurrence is linear in the state: h_t = a_t * h_{t-1} + b_t with a_t in
(0, 1) and b_t > 0 known for every t before the loop starts. Its solution is

    h_t = A_t * h_0 + A_t * sum_{k <= t} b_k / A_k,        A_t = a_1 * ... * a_t,

which ``log_linear_scan`` computes for the whole sequence at once in log space, as in the paper:
log A_t is a cumulative sum and the sum a prefix log-sum-exp of log b_k - log A_k
(``torch.logcumsumexp``, a parallel scan). The h_0 term is added outside the logarithm, so h_0
may have any sign (a given ``hx``). This is the form on GPU (``space="log"``).

On CPU there is no parallel hardware for the scan to use: PyTorch's ``logcumsumexp`` kernel is
a scalar loop there. So on CPU (``space="linear"``) ``linear_recurrence_time_major`` runs
h_t = a_t * h_{t-1} + b_t itself, as a loop over time vectorised over batch and units, with its
backward written out: one fused multiply-add per step each way, and none of the logarithms and
exponentials of the log-space form around it (faster on CPU; on a GPU the log-space scan is:
``scripts/bench.py --only scan``, the docs' performance page). The cells compute their gates
time-major, the loop's own layout, and ``positive`` and minLSTM's gates have their derivatives
written out. Nothing is multiplied over many steps, so nothing underflows: with 0 < a_t < 1 each
step is a convex combination, stable in linear space. Both forms are the same function (the
tests check them against the sequential step to 1e-10 in float64, gradients included).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from seqnet.models.cores import Hidden, StepRNN
from seqnet.models.engine import Probes, cell_method

#: How ``ScanRNN`` computes a scan: "linear" (``linear_recurrence``) or "log" (the paper's).
SPACES = ("linear", "log")


def default_space(device: torch.device) -> str:
    """The faster form on ``device``: a time loop in linear space on CPU, the log-space parallel
    scan elsewhere."""
    return "linear" if device.type == "cpu" else "log"


@torch.compiler.disable  # its loop would be unrolled into the graph
def linear_recurrence_time_major(a: Tensor, b: Tensor, h0: Tensor | None = None) -> Tensor:
    """All h_t of h_t = a_t * h_{t-1} + b_t along dim 0, from a_t and b_t (time, batch,
    hidden) and h_0 (batch, hidden; None: zero). Time-major is the loop's own layout: the cells
    compute their gates in it (from the input transposed before the projection, a quarter of
    their size or less), which saves copying every gate tensor to it and back."""
    return _LinearRecurrence.apply(a.contiguous(), b.contiguous(), h0)


class _LinearRecurrence(torch.autograd.Function):
    """The recurrence as a loop over time on (batch, hidden) slices.

    Backward: with G_t = dL/dh_t in total (through every later step),
    G_t = g_t + a_{t+1} * G_{t+1}, and then dL/db_t = G_t, dL/da_t = G_t * h_{t-1},
    dL/dh_0 = a_1 * G_1.
    """

    @staticmethod
    def forward(ctx: Any, a: Tensor, b: Tensor, h0: Tensor | None) -> Tensor:
        h = torch.empty_like(b)  # a, b, h: (time, batch, hidden), contiguous
        if h0 is None:
            h[0] = b[0]
        else:
            torch.addcmul(b[0], a[0], h0, out=h[0])
        for t in range(1, len(h)):
            torch.addcmul(b[t], a[t], h[t - 1], out=h[t])
        ctx.save_for_backward(a, h, h0)
        return h

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
        a, h, h0 = ctx.saved_tensors
        g = grad.contiguous()
        total = torch.empty_like(g)  # G_t
        total[-1] = g[-1]
        for t in range(len(g) - 2, -1, -1):
            torch.addcmul(g[t], a[t + 1], total[t + 1], out=total[t])
        grad_a = torch.empty_like(total)
        torch.mul(total[1:], h[:-1], out=grad_a[1:])
        if h0 is None:
            grad_a[0].zero_()
            grad_h0 = None
        else:
            torch.mul(total[0], h0, out=grad_a[0])
            grad_h0 = a[0] * total[0]
        return grad_a, total, grad_h0


def log_linear_scan(log_a: Tensor, log_b: Tensor, h0: Tensor | None = None) -> Tensor:
    """All h_t of h_t = a_t * h_{t-1} + b_t along dim 1, from log a_t and log b_t (batch, time,
    hidden) and h_0 (batch, hidden; None: zero)."""
    decay = (-log_a).cumsum(dim=1)
    return scan_with_decay(decay, log_b + decay, h0)


def scan_with_decay(decay: Tensor, v: Tensor, h0: Tensor | None = None) -> Tensor:
    """``log_linear_scan`` from decay_t = -log A_t = -sum_{k <= t} log a_k and
    v_t = log b_t + decay_t (the cells build both with as few passes over the data as they can):
    h_t = exp(logsumexp_{k <= t} v_k - decay_t) + exp(-decay_t) h_0."""
    h = torch.exp(prefix_logsumexp(v) - decay)
    if h0 is not None:
        h = h + torch.exp(-decay) * h0.unsqueeze(1)
    return h


@torch.compiler.disable  # its loop would be unrolled into the graph
def prefix_logsumexp(v: Tensor) -> Tensor:
    """``torch.logcumsumexp(v, dim=1)`` for v (batch, time, hidden), fast on every device."""
    if v.device.type == "cpu":
        return _PrefixLogSumExp.apply(v)
    return torch.logcumsumexp(v, dim=1)


class _PrefixLogSumExp(torch.autograd.Function):
    """s_t = log(exp(s_{t-1}) + exp(v_t)) as a loop over time on (batch, hidden) slices.

    Backward: dL/dv_k = exp(v_k - s_k) * r_k with r_k = sum_{t >= k} g_t exp(s_k - s_t), which
    is the reverse recurrence r_k = g_k + exp(s_k - s_{k+1}) r_{k+1}; s is non-decreasing, so
    every factor is <= 1 and the recurrence is stable in linear space.
    """

    @staticmethod
    def forward(ctx: Any, v: Tensor) -> Tensor:
        v = v.transpose(0, 1).contiguous()  # time first: each step is one contiguous slice
        s = torch.empty_like(v)
        s[0] = v[0]
        for t in range(1, len(v)):
            torch.logaddexp(s[t - 1], v[t], out=s[t])
        ctx.save_for_backward(v, s)
        return s.transpose(0, 1)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        v, s = ctx.saved_tensors
        g = grad.transpose(0, 1).contiguous()
        decay = torch.exp(s[:-1] - s[1:])
        r = torch.empty_like(g)
        r[-1] = g[-1]
        for t in range(len(g) - 2, -1, -1):
            torch.addcmul(g[t], decay[t], r[t + 1], out=r[t])
        return (torch.exp(v - s) * r).transpose(0, 1)


def block_linear(x: Tensor, weight: Tensor, bias: Tensor | None, blocks: int) -> list[Tensor]:
    """``F.linear(x, weight, bias).chunk(blocks, -1)``, each block computed on its own so that
    it is contiguous."""
    weights = weight.chunk(blocks, dim=0)
    biases = [None] * blocks if bias is None else bias.chunk(blocks)
    return [F.linear(x, w, b) for w, b in zip(weights, biases, strict=True)]


#: Below this, the negative branch of ``positive`` is held at sigmoid(LOW) (about 1e-26), so that
#: its logarithm and that logarithm's gradient stay finite in float32.
LOW = -60.0


def positive(x: Tensor) -> Tensor:
    """g(x) = x + 1/2 for x >= 0, sigmoid(x) below: the paper's positive, continuous activation
    for the candidate state, so that b_t > 0 has a logarithm: relu(x) + sigmoid(min(x, 0)),
    with x held at ``LOW`` below it (cheaper than a ``torch.where`` in the forward pass).
    Compiled (``model.compile``), autograd's own derivative: inductor fuses it anyway, and the
    written-out backward gave wrong gradients in a compiled minGRU on a GPU (torch 2.11)."""
    if torch.compiler.is_compiling():
        return x.clamp(min=0) + x.clamp(LOW, 0).sigmoid()
    return _Positive.apply(x)


class _Positive(torch.autograd.Function):
    """``positive`` with its derivative written out, g'(x) = 1 for x >= 0 and
    sigmoid'(max(x, LOW)) below, from the sigmoid the forward pass kept: 3 passes over the
    tensor where autograd's chain of clamps took 7."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        g, s = positive_parts(x)
        ctx.save_for_backward(x >= 0, s)
        return g

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        nonneg, s = ctx.saved_tensors
        return positive_backward(grad, s, nonneg)


def positive_parts(x: Tensor) -> tuple[Tensor, Tensor]:
    """g(x) and the sigmoid s = sigmoid(min(max(x, LOW), 0)) it adds, which its derivative
    below 0 is made from (``positive_backward``)."""
    s = x.clamp(LOW, 0).sigmoid_()
    return x.clamp(min=0).add_(s), s


def positive_backward(grad: Tensor, s: Tensor, nonneg: Tensor) -> Tensor:
    """grad * g'(x): grad where x >= 0 (``nonneg``), grad * s (1 - s) below."""
    slope = torch.addcmul(s, s, s, value=-1).mul_(grad)  # s (1 - s), the sigmoid's derivative
    return torch.where(nonneg, grad, slope)


def log_positive(x: Tensor) -> Tensor:
    """log g(x)."""
    return positive(x).log()


class ScanRNN(StepRNN):
    """A multi-layer core for a cell with a linear recurrence (``cell_class.scan``): trained with
    the parallel scan; with probes attached it runs the cell's sequential ``step`` on the engine
    (the same function, which the tests check to 1e-10 in float64, gradients included).

    A model registers a subclass that names its cell: ``class MinGRU(ScanRNN): cell_class =
    MinGRUCell``; it has the ``torch.nn.LSTM`` constructor.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """``StepRNN``'s constructor without its first argument, the cell class (that is
        ``cell_class``): (input_size, hidden_size, num_layers, bias, batch_first, dropout,
        compile, cell options), as ``torch.nn.LSTM`` plus ``compile``, which here compiles the
        scan."""
        super().__init__(type(self).cell_class, *args, **kwargs)

    def forward(
        self, input: Tensor, hx: Hidden | None = None, probes: Probes | None = None
    ) -> tuple[Tensor, Hidden]:
        if probes is not None:
            return self.forward_stepped(input, hx, probes)
        return self.forward_scan(input, hx)

    def forward_scan(
        self, input: Tensor, hx: Hidden | None = None, space: str | None = None
    ) -> tuple[Tensor, Hidden]:
        """The scan form: same signature and result as ``forward_stepped``; ``space`` (linear or
        log) defaults to the faster one on the input's device."""
        x = input if self.batch_first else input.transpose(0, 1)
        space = space or default_space(x.device)
        if space not in SPACES:
            raise ValueError(f"scan space {space!r} is not one of {', '.join(SPACES)}")
        initial = self._split_hidden(hx)
        cells, directions = self.cells(), self.num_directions
        finals = []
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0.0 and self.training:
                x = F.dropout(x, self.dropout, training=True)
            outputs = []
            for direction in range(directions):
                index = layer * directions + direction
                cell, backward = cells[index], direction == 1
                h0 = None if initial is None else initial[index][0]
                scan = cell_method(type(cell), "scan", self.compiled)
                h = scan(cell, x.flip(1) if backward else x, h0, space)
                finals.append((h[:, -1],))
                outputs.append(h.flip(1) if backward else h)
            x = outputs[0] if directions == 1 else torch.cat(outputs, dim=-1)
        output = x if self.batch_first else x.transpose(0, 1)
        return output, self._join_hidden(finals)
