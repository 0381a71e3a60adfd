"""``data=parity``: the parity of a sequence of random bits, a many-to-one classification. Each
step is one real input, 0 or 1; the label is the XOR of all the bits (1 when the sequence holds
an odd number of ones). Every bit decides the answer, so the gradient must carry the first step
to the end: a model that forgets any bit is at chance, 50%.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Generator

from seqnet.data import Batch, TaskSpec, register_task
from seqnet.data.classification import Classification
from seqnet.data.generated import GeneratedConfig, GeneratedTask


@dataclass
class ParityConfig(GeneratedConfig):
    """The schema of ``data=parity``: its own key beside the generated tasks' ones."""

    name: str = "parity"
    seq_len: int = 20


@register_task("parity", config=ParityConfig)
class ParityTask(GeneratedTask, Classification):
    spec = TaskSpec(input_size=1, output_size=2, input_kind="real", output_mode="last")

    def __init__(
        self, config: Any = None, /, *, device: torch.device | str = "cpu", **fields: Any
    ) -> None:
        super().__init__(config, device=device, **fields)
        self.seq_len = self.config.seq_len
        if self.seq_len < 1:
            raise ValueError(f"data.seq_len must be >= 1 (bits per sequence), got {self.seq_len}")

    def generate(self, n: int, generator: Generator) -> Batch:
        """``n`` sequences, vectorised: x (n, seq_len, 1) of 0.0/1.0, y (n,) their parity."""
        bits = torch.randint(0, 2, (n, self.seq_len), generator=generator, device=self.device)
        return Batch(bits.unsqueeze(-1).float(), bits.sum(dim=1) % 2)
