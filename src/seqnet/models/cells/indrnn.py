"""Independently recurrent neural network, IndRNN (Li et al. 2018): each unit sees only its own
previous value, through a recurrent *vector* u (``weight_hh``, shape (hidden,)):

    h_t = act(W_ih x_t + b_ih + u * h_{t-1})

``recurrent_max=T`` keeps |u| <= 2^(1/T) (u is clipped in the forward pass, so the gradient of a
clipped entry is 0): over T steps a unit's gradient can then grow by at most a factor 2, the
bound Li et al. use on the adding problem. u starts U(0, 1), W_ih and b_ih as PyTorch's default.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from seqnet.models.cells.base import Cell, State, probed
from seqnet.models.cells.rnn import activation


class IndRNNCell(Cell):
    state_names = ("h",)
    gate_count = 1
    recurrent = "vector"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "relu",
        recurrent_max: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if recurrent_max is not None and not recurrent_max > 0:
            raise ValueError(
                f"model.recurrent_max={recurrent_max} must be a positive number of timesteps T "
                "(|u| is kept <= 2^(1/T)), or null for no constraint"
            )
        self._act = activation(nonlinearity, type(self).__name__)
        self.nonlinearity, self.recurrent_max = nonlinearity, recurrent_max
        self.bound = None if recurrent_max is None else 2.0 ** (1.0 / recurrent_max)
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        nn.init.uniform_(self.weight_hh, 0.0, 1.0)

    def prepare_recurrent_weight(self) -> Tensor:
        """u, clipped to [-2^(1/T), 2^(1/T)] with ``recurrent_max=T`` (once per pass)."""
        if self.bound is None:
            return self.weight_hh
        return self.weight_hh.clamp(-self.bound, self.bound)

    def step(self, x_proj: Tensor, state: State, probe: State | None = None) -> State:
        (h,) = state
        u = self.recurrent_weight()
        return probed((self._act(torch.addcmul(x_proj, u, h)),), probe)
