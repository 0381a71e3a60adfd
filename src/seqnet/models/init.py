"""Initialisation options shared by every cell and fused core, and their checks.

- ``recurrent_init``: ``default`` (PyTorch's U(-1/sqrt(H), 1/sqrt(H))), ``orthogonal`` (an
  independent random orthogonal matrix per H x H gate block of ``weight_hh``) or ``identity``
  (every gate block the identity, as the IRNN of Le et al. 2015 does for its only block).
- ``forget_bias``: the forget-gate bias, written once into ``bias_ih`` (Gers et al. 2000;
  Jozefowicz et al. 2015).
- ``chrono_tmax``: chrono initialisation (Tallec and Ollivier 2018): forget-gate bias
  log(U[1, T_max - 1]) and input-gate bias its negative, so that the initial memory time scales
  spread over [1, T_max]. It replaces ``forget_bias`` when set.

Each check raises a ``ValueError`` of one line naming the value and the fix (the training loop
turns it into a ``ConfigError``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

RECURRENT_INITS = ("default", "orthogonal", "identity")

#: The models whose cells have a forget gate, for the message when chrono is given elsewhere.
FORGET_GATE_MODELS = "lstm, lstm_peephole, lstm_cifg, lstm_layernorm, minlstm"


def check_zoneout(zoneout: float) -> None:
    if not 0.0 <= zoneout < 1.0:
        raise ValueError(
            f"model.zoneout={zoneout} must be in [0, 1): the probability that a unit keeps its "
            "previous state at a step (e.g. model.zoneout=0.1; 0 turns zoneout off)"
        )


def check_recurrent_init(scheme: str) -> None:
    if scheme not in RECURRENT_INITS:
        raise ValueError(
            f"model.recurrent_init={scheme!r} is not an initialisation; use one of "
            f"{', '.join(RECURRENT_INITS)}"
        )


def check_chrono(chrono_tmax: float | None, cell_name: str, forget_gate: int | None) -> None:
    if chrono_tmax is None:
        return
    if forget_gate is None:
        raise ValueError(
            f"model.chrono_tmax={chrono_tmax}: chrono initialisation sets forget-gate biases and "
            f"{cell_name} has no forget gate; use a model that has one ({FORGET_GATE_MODELS}) "
            "or remove model.chrono_tmax"
        )
    if not chrono_tmax >= 2:
        raise ValueError(
            f"model.chrono_tmax={chrono_tmax} must be >= 2: the longest dependency to remember, "
            "in timesteps (e.g. the task's data.seq_len); null turns chrono initialisation off"
        )


def check_forget_bias(forget_bias: float | None, cell_name: str, forget_gate: int | None) -> None:
    if forget_bias is not None and forget_gate is None:
        raise ValueError(
            f"model.forget_bias={forget_bias}: {cell_name} has no forget gate; "
            f"use a model that has one ({FORGET_GATE_MODELS}) or remove model.forget_bias"
        )


@torch.no_grad()
def init_recurrent(weight_hh: Tensor, hidden_size: int, scheme: str) -> None:
    """Initialise each (hidden, hidden) gate block of ``weight_hh`` by ``scheme``; ``default``
    leaves it as it is."""
    check_recurrent_init(scheme)
    if scheme == "default":
        return
    for block in weight_hh.split(hidden_size, dim=0):
        if scheme == "orthogonal":
            nn.init.orthogonal_(block)
        else:
            block.copy_(torch.eye(hidden_size, dtype=block.dtype, device=block.device))


def gate_block(tensor: Tensor, gate: int, hidden_size: int) -> Tensor:
    """The view of gate block ``gate`` of a stacked bias or weight."""
    return tensor[gate * hidden_size : (gate + 1) * hidden_size]


@torch.no_grad()
def init_forget_bias(
    bias_ih: Tensor | None,
    bias_hh: Tensor | None,
    hidden_size: int,
    value: float,
    forget_gate: int = 1,
) -> None:
    """Set the forget-gate bias to ``value`` once: in ``bias_ih``, with ``bias_hh``'s block at 0.

    The effective bias is the sum of the two vectors, so writing ``value`` into both would
    double it.
    """
    if bias_ih is None:
        return
    gate_block(bias_ih, forget_gate, hidden_size).fill_(value)
    if bias_hh is not None:
        gate_block(bias_hh, forget_gate, hidden_size).zero_()


@torch.no_grad()
def init_chrono(
    bias_ih: Tensor | None,
    bias_hh: Tensor | None,
    hidden_size: int,
    chrono_tmax: float,
    forget_gate: int,
    input_gate: int | None,
) -> None:
    """Chrono initialisation: b_f = log(U[1, T_max - 1]), b_i = -b_f, written into ``bias_ih``
    (``bias_hh``'s blocks at 0); draws from the global generator."""
    if bias_ih is None:
        return
    forget = gate_block(bias_ih, forget_gate, hidden_size)
    forget.uniform_(1.0, chrono_tmax - 1.0).log_()
    gates = [forget_gate] if input_gate is None else [forget_gate, input_gate]
    if input_gate is not None:
        gate_block(bias_ih, input_gate, hidden_size).copy_(-forget)
    if bias_hh is not None:
        for gate in gates:
            gate_block(bias_hh, gate, hidden_size).zero_()


def init_options(
    weight_hh: Tensor | None,
    bias_ih: Tensor | None,
    bias_hh: Tensor | None,
    hidden_size: int,
    *,
    recurrent_init: str = "default",
    forget_gate: int | None = None,
    input_gate: int | None = None,
    forget_bias: float | None = None,
    chrono_tmax: float | None = None,
) -> None:
    """Apply the initialisation options to one layer's parameters, after the default init:
    ``recurrent_init`` on ``weight_hh`` (a matrix), then ``forget_bias``, then ``chrono_tmax``
    (which replaces it) on the forget gate."""
    if weight_hh is not None:
        init_recurrent(weight_hh, hidden_size, recurrent_init)
    if forget_gate is None:
        return
    if forget_bias is not None:
        init_forget_bias(bias_ih, bias_hh, hidden_size, forget_bias, forget_gate)
    if chrono_tmax is not None:
        init_chrono(bias_ih, bias_hh, hidden_size, chrono_tmax, forget_gate, input_gate)


def default_bound(hidden_size: int) -> float:
    """PyTorch's bound for recurrent layers: U(-1/sqrt(H), 1/sqrt(H))."""
    return 1.0 / math.sqrt(hidden_size)
