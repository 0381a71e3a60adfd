"""A sequence model = input encoder + recurrent core + task head."""

from __future__ import annotations

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
    """Base of every registered model. Inputs are batch-first.

    ``forward(x, hx=None, probes=None) -> (prediction, h_n)``: with ``probes`` the core runs on
    the step-by-step engine and attaches a probe to the encoded input (``"x"``) and to every
    state of every layer (``"h_l0"``, ``"c_l0"``, ...), for exact gradient measurements.
    """

    def __init__(self, spec: TaskSpec, core: nn.Module, encoder: nn.Module, head: nn.Module):
        super().__init__()
        self.spec = spec
        self.encoder = encoder
        self.core = core
        self.head = head

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


def check_core_options(hidden_size: int, num_layers: int, dropout: float) -> None:
    """Clear errors for the options every core shares."""
    if hidden_size < 1:
        raise ValueError(f"model.hidden_size must be >= 1, got {hidden_size}")
    if num_layers < 1:
        raise ValueError(f"model.num_layers must be >= 1, got {num_layers}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"model.dropout must be in [0, 1), got {dropout}")
    if dropout > 0.0 and num_layers == 1:
        raise ValueError(
            f"model.dropout={dropout} acts only between recurrent layers, and "
            "model.num_layers=1 has none: set model.num_layers >= 2 or model.dropout=0"
        )
