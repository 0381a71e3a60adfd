"""A sequence model = input encoder + recurrent core + task head, around any registered core."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from seqnet.data.base import TaskSpec
from seqnet.models.engine import Probes


def make_encoder(spec: TaskSpec, encoder_size: int | None) -> tuple[nn.Module, int]:
    """The input encoder for ``spec`` and the feature size it feeds to the core."""
    if spec.input_kind == "tokens":
        if encoder_size is None:
            raise ValueError(
                "token inputs need an embedding: set model.encoder_size to an integer "
                "(the embedding dimension), not null"
            )
        return nn.Embedding(spec.input_size, encoder_size), encoder_size
    if encoder_size is None:
        return nn.Identity(), spec.input_size
    return nn.Linear(spec.input_size, encoder_size), encoder_size


class Head(nn.Module):
    """Linear read-out of the top layer: at the last step (many-to-one) or at every step."""

    def __init__(self, hidden_size: int, output_size: int, mode: str) -> None:
        super().__init__()
        if mode not in ("last", "every"):
            raise ValueError(f"head mode must be 'last' or 'every', got {mode!r}")
        self.mode = mode
        self.linear = nn.Linear(hidden_size, output_size)

    def forward(self, outputs: Tensor) -> Tensor:
        """(batch, time, hidden) -> (batch, output) or (batch, time, output)."""
        return self.linear(outputs[:, -1] if self.mode == "last" else outputs)


class SequenceModel(nn.Module):
    """Input encoder + recurrent core + head, for tasks with one output per sequence or one per
    step. Inputs are batch-first.

    ``make_core(input_size)`` builds the registered recurrent core (see ``models.registry``).
    ``forward(x, hx=None, probes=None) -> (prediction, h_n)``: with ``probes`` the core runs on
    the step-by-step engine and attaches a probe to the encoded input (``"x"``) and to every
    state of every layer (``"h_l0"``, ``"c_l0"``, ...), for exact gradient measurements.
    """

    def __init__(
        self, spec: TaskSpec, make_core: Callable[[int], nn.Module], encoder_size: int | None
    ) -> None:
        super().__init__()
        self.spec = spec
        self.encoder, features = make_encoder(spec, encoder_size)
        self.core = make_core(features)
        self.head = Head(self.core.hidden_size, spec.output_size, spec.output_mode)

    @property
    def state_names(self) -> tuple[str, ...]:
        return self.core.cell_class.state_names

    @property
    def num_layers(self) -> int:
        return self.core.num_layers

    def forward(
        self, x: Tensor, hx: Any = None, probes: Probes | None = None
    ) -> tuple[Tensor, Any]:
        features = self.encoder(x)
        if probes is not None:
            features = probes.attach("x", features)
            outputs, h_n = self.core(features, hx, probes=probes)
        else:
            outputs, h_n = self.core(features, hx)
        return self.head(outputs), h_n
