"""The adding problem (Hochreiter & Schmidhuber 1997): a many-to-one memory task.

Each step has two channels: a value ~ U[0, 1] and a marker. Exactly one marker is set in the
first half of the sequence and one in the second half; the target is the sum of the two marked
values. Predicting the mean (1.0) always gives MSE = Var(U1 + U2) = 1/6, the trivial baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Generator

from seqnet.data.generated import GeneratedConfig, GeneratedTask
from seqnet.data.regression import ScalarRegression
from seqnet.data.task import Batch, TaskSpec, register_task

BASELINE_MSE = 1.0 / 6.0


@dataclass
class AddingConfig(GeneratedConfig):
    name: str = "adding"
    seq_len: int = 50


@register_task("adding", config=AddingConfig)
class AddingProblem(GeneratedTask, ScalarRegression):
    spec = TaskSpec(input_size=2, output_size=1, input_kind="real", output_mode="last")
    baseline = BASELINE_MSE

    def __init__(
        self, config: Any = None, /, *, device: torch.device | str = "cpu", **fields: Any
    ) -> None:
        super().__init__(config, device=device, **fields)
        self.seq_len = self.config.seq_len
        if self.seq_len < 2:
            raise ValueError(
                "the adding problem needs data.seq_len >= 2 (one marker per half), "
                f"got {self.seq_len}"
            )

    def generate(self, n: int, generator: Generator) -> Batch:
        """``n`` sequences, vectorised: x (n, seq_len, 2), y (n,)."""
        T, half, dev = self.seq_len, self.seq_len // 2, self.device
        values = torch.rand(n, T, generator=generator, device=dev)
        first = torch.randint(0, half, (n,), generator=generator, device=dev)
        second = torch.randint(half, T, (n,), generator=generator, device=dev)
        markers = torch.zeros(n, T, device=dev)
        rows = torch.arange(n, device=dev)
        markers[rows, first] = 1.0
        markers[rows, second] = 1.0
        y = values[rows, first] + values[rows, second]
        return Batch(torch.stack((values, markers), dim=-1), y)
