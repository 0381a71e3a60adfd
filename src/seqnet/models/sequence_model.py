"""A sequence model = input encoder + recurrent core + read-out head, around any registered core:
the model of the many-to-one, aligned many-to-many and one-to-one shapes (decoders for the
others are in ``models.decoders``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from seqnet.data.task import Decoded, TaskSpec
from seqnet.models.engine import DIRECTION_NAMES, Probes


def make_encoder(kind: str, size: int, encoder_size: int | None) -> tuple[nn.Module, int]:
    """The encoder of ``size`` real features or a vocabulary of ``size`` tokens (``kind``), and
    the feature size it feeds to a core: a linear layer (identity when ``encoder_size`` is
    null) or an embedding."""
    if kind == "tokens":
        if encoder_size is None:
            raise ValueError(
                "token inputs need an embedding: set model.encoder_size to an integer "
                "(the embedding dimension), not null"
            )
        return nn.Embedding(size, encoder_size), encoder_size
    if encoder_size is None:
        return nn.Identity(), size
    return nn.Linear(size, encoder_size), encoder_size


def state_probe_names(core: nn.Module, prefix: str = "") -> list[str]:
    """The probed states of ``core``, layer by layer: ``h_l0``, ``c_l0``, ``h_l1``, ...; a
    bidirectional core's per direction: ``h_l0_fwd``, ``c_l0_fwd``, ``h_l0_bwd``, ..."""
    directions = DIRECTION_NAMES if getattr(core, "bidirectional", False) else ("",)
    return [
        f"{prefix}{s}_l{layer}{direction}"
        for layer in range(core.num_layers)
        for direction in directions
        for s in core.cell_class.state_names
    ]


def run_core(core: nn.Module, features: Tensor, hx: Any, probes: Probes | None) -> Any:
    """``core(features, hx) -> (outputs, h_n)``; with ``probes``, on the step-by-step engine with
    a probe on every state."""
    if probes is None:
        return core(features, hx)
    return core(features, hx, probes=probes)


class Head(nn.Module):
    """Linear read-out of the top layer: at the last step (many-to-one) or at every step.

    A bidirectional core's top layer is read, many-to-one, at each direction's last step: the
    forward direction's state at t=T-1 beside the backward direction's at t=0 (both have read
    the whole sequence; torch's ``h_n`` of the top layer). At every step it is read as it is.
    """

    def __init__(
        self, hidden_size: int, output_size: int, mode: str, bidirectional: bool = False
    ) -> None:
        super().__init__()
        if mode not in ("last", "every"):
            raise ValueError(f"head mode must be 'last' or 'every', got {mode!r}")
        self.mode = mode
        self.hidden_size = hidden_size
        self.bidirectional = bidirectional
        self.linear = nn.Linear(hidden_size * (2 if bidirectional else 1), output_size)

    def forward(self, outputs: Tensor) -> Tensor:
        """(batch, time, directions * hidden) -> (batch, output) or (batch, time, output)."""
        if self.mode == "every":
            return self.linear(outputs)
        if not self.bidirectional:
            return self.linear(outputs[:, -1])
        H = self.hidden_size
        return self.linear(torch.cat((outputs[:, -1, :H], outputs[:, 0, H:]), dim=-1))


class SequenceModel(nn.Module):
    """Input encoder + recurrent core + head, for tasks with one output per sequence or one per
    step (one-to-one is a sequence of one step). Inputs are batch-first.

    ``make_core(input_size)`` builds the registered recurrent core (see ``models.factory``).
    ``forward(x, hx=None, probes=None, targets=None) -> (prediction, h_n)``: with ``probes`` the
    core runs on the step-by-step engine and attaches a probe to the encoded input (``"x"``)
    and to every state of every layer (``"h_l0"``, ``"c_l0"``, ...; a bidirectional core's per
    direction, ``"h_l0_fwd"``, ``"h_l0_bwd"``, ...), for exact gradient measurements.
    ``targets`` is accepted for the interface every model shares (decoders use it for teacher
    forcing) and not used.
    """

    def __init__(
        self, spec: TaskSpec, make_core: Callable[[int], nn.Module], encoder_size: int | None
    ) -> None:
        super().__init__()
        self.spec = spec
        self.encoder, features = make_encoder(spec.input_kind, spec.input_size, encoder_size)
        self.core = make_core(features)
        self.head = Head(
            self.core.hidden_size,
            spec.output_size,
            spec.output_mode,
            getattr(self.core, "bidirectional", False),
        )

    @property
    def state_names(self) -> tuple[str, ...]:
        return self.core.cell_class.state_names

    @property
    def num_layers(self) -> int:
        return self.core.num_layers

    @property
    def probe_names(self) -> list[str]:
        """The quantities a gradient profile of this model holds."""
        return ["x", *state_probe_names(self.core)]

    def forward(
        self, x: Tensor, hx: Any = None, probes: Probes | None = None, targets: Tensor | None = None
    ) -> tuple[Tensor, Any]:
        features = self.encoder(x)
        if probes is not None:
            features = probes.attach("x", features)
        outputs, h_n = run_core(self.core, features, hx, probes)
        return self.head(outputs), h_n

    def predict(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """What ``Task.metrics`` scores on a held-out set: the forward pass."""
        return self(x)[0]


def concat_predictions(parts: list[Tensor | Decoded]) -> Tensor | Decoded:
    """Join the ``predict`` results of consecutive chunks of a batch."""
    if isinstance(parts[0], Tensor):
        return torch.cat(parts)
    return Decoded(*(torch.cat(field) for field in zip(*parts, strict=True)))
