"""The cell interface every recurrent layer implements, fused or not.

A cell maps one timestep: ``state_t = step(project_input(x)_t, state_{t-1})``. The input
projection is split out so the engine applies it to the whole sequence in one matrix multiply;
only the recurrent part runs per step. Parameter names follow ``torch.nn.LSTMCell``
(``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``), so a cell can share the weights of one
layer of a fused ``nn.LSTM`` (``weight_ih_l0`` ...) without copying them.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

State = tuple[Tensor, ...]


class Cell(nn.Module):
    """Base class: subclasses set ``state_names`` and ``gate_count`` and implement ``step``."""

    #: Names of the state tensors, output first (``("h",)`` or ``("h", "c")``).
    state_names: ClassVar[tuple[str, ...]] = ("h",)
    #: Number of stacked gate blocks in ``weight_ih`` / ``weight_hh``.
    gate_count: ClassVar[int] = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if input_size < 1 or hidden_size < 1:
            raise ValueError(
                f"{type(self).__name__} needs input_size >= 1 and hidden_size >= 1, "
                f"got input_size={input_size}, hidden_size={hidden_size}"
            )
        self.input_size = input_size
        self.hidden_size = hidden_size
        gates = self.gate_count * hidden_size
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        self.weight_ih = nn.Parameter(torch.empty(gates, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(gates, hidden_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(gates, **factory))
            self.bias_hh = nn.Parameter(torch.empty(gates, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default for its recurrent layers: U(-1/sqrt(H), 1/sqrt(H)) everywhere."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters(recurse=False):
            nn.init.uniform_(p, -bound, bound)

    @classmethod
    def from_parameters(cls, params: dict[str, nn.Parameter], **options: Any) -> Cell:
        """A cell that shares (does not copy) ``params``, e.g. one layer of a fused ``nn.LSTM``."""
        weight_ih, weight_hh = params["weight_ih"], params["weight_hh"]
        # Build on the meta device so no storage is allocated, then point at the shared tensors.
        cell = cls(
            weight_ih.shape[1],
            weight_hh.shape[1],
            bias=params.get("bias_ih") is not None,
            device="meta",
            **options,
        )
        own = dict(cell.named_parameters())
        if set(own) != set(params):
            raise ValueError(
                f"{cls.__name__}.from_parameters expected parameters {sorted(own)}, "
                f"got {sorted(params)}"
            )
        for name, p in params.items():
            setattr(cell, name, p)
        return cell

    def initial_state(self, batch_size: int, device: torch.device, dtype: torch.dtype) -> State:
        zeros = torch.zeros(batch_size, self.hidden_size, device=device, dtype=dtype)
        return tuple(zeros for _ in self.state_names)

    def project_input(self, x: Tensor) -> Tensor:
        """``W_ih x + b_ih`` for every timestep at once: (..., input_size) -> (..., gates)."""
        return F.linear(x, self.weight_ih, self.bias_ih)

    def step(self, x_proj: Tensor, state: State, probe: State | None = None) -> State:
        """One timestep: the projected input at t (batch, gates) and the state at t-1.

        ``probe``, when given, holds one zero tensor per state: add ``probe[i]`` to state ``i``
        as soon as it is computed, before anything uses it (the LSTM adds it to ``c_t`` before
        computing ``h_t`` from it). Then ``probe[i].grad`` is the total derivative of the loss
        with respect to that state, every path included.
        """
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias_ih is not None}"
