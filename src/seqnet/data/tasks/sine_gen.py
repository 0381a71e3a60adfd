"""``data=sine_gen``: generation, one-to-many. A parameter vector (frequency, phase, amplitude)
-> the waveform y_t = amplitude * sin(2 pi frequency t / T + phase), t = 0 .. T-1.

Frequency ~ U[1, 3] cycles per sequence, phase ~ U[0, 2 pi), amplitude ~ U[0.5, 1.5]; x is
(batch, 1, 3), y (batch, T, 1). The model maps the vector to its decoder's initial state; it is
trained with teacher forcing (the previous sample is the next input) and validated by free
generation (its own previous output is the next input): ``mse`` is the generated waveform's.
The trivial baseline predicts 0 at every step (the mean over phases): its MSE is
E[amplitude^2] / 2 = 13/24, so ``baseline_ratio`` = mse / (13/24).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Generator, Tensor

from seqnet.data.generated import GeneratedConfig, GeneratedTask
from seqnet.data.task import Batch, Decoded, TaskSpec, register_task

FREQUENCY = (1.0, 3.0)  # cycles per sequence
AMPLITUDE = (0.5, 1.5)
#: MSE of predicting 0: E[A^2 sin^2] = E[A^2] / 2 with A ~ U[0.5, 1.5] (E[A^2] = 1 + 1/12).
BASELINE_MSE = 13.0 / 24.0


@dataclass
class SineGenConfig(GeneratedConfig):
    name: str = "sine_gen"
    seq_len: int = 50


@register_task("sine_gen", config=SineGenConfig)
class SineGeneration(GeneratedTask):
    metric_names = ("loss", "mse", "baseline_ratio")

    def __init__(
        self, config: Any = None, /, *, device: torch.device | str = "cpu", **fields: Any
    ) -> None:
        super().__init__(config, device=device, **fields)
        self.seq_len = seq_len = self.config.seq_len
        if seq_len < 2:
            raise ValueError(f"sine_gen needs data.seq_len >= 2 (a waveform), got {seq_len}")
        self.spec = TaskSpec(input_size=3, output_size=1, shape="one_to_many", output_len=seq_len)

    def generate(self, n: int, generator: Generator) -> Batch:
        """``n`` examples, vectorised: x (n, 1, 3) parameters, y (n, seq_len, 1) waveforms."""
        u = torch.rand(n, 3, generator=generator, device=self.device)
        frequency = FREQUENCY[0] + (FREQUENCY[1] - FREQUENCY[0]) * u[:, 0]
        phase = 2 * math.pi * u[:, 1]
        amplitude = AMPLITUDE[0] + (AMPLITUDE[1] - AMPLITUDE[0]) * u[:, 2]
        t = torch.arange(self.seq_len, device=self.device) / self.seq_len
        angle = 2 * math.pi * frequency[:, None] * t + phase[:, None]
        y = amplitude[:, None] * torch.sin(angle)
        x = torch.stack((frequency, phase, amplitude), dim=-1)
        return Batch(x.unsqueeze(1), y.unsqueeze(-1))

    def loss(self, pred: Tensor, y: Tensor) -> Tensor:
        return torch.mean((pred - y) ** 2)

    def sequence_loss(self, pred: Tensor, y: Tensor, last_only: bool = True) -> Tensor:
        per_step = ((pred - y) ** 2).sum(dim=-1)
        return per_step[:, -1] if last_only else per_step.sum(dim=1)

    def metrics(self, pred: Decoded, y: Tensor) -> dict[str, float]:
        mse = float(torch.mean((pred.generated.double() - y.double()) ** 2))
        loss = float(torch.mean((pred.teacher_forced.double() - y.double()) ** 2))
        return {"loss": loss, "mse": mse, "baseline_ratio": mse / BASELINE_MSE}
