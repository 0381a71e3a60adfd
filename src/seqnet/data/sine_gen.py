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

import torch
from torch import Generator, Tensor

from seqnet.data.base import Batch, Decoded, Task, TaskSpec
from seqnet.data.registry import DataConfig, register_task
from seqnet.data.seeds import heldout_set, stream_seed

FREQUENCY = (1.0, 3.0)  # cycles per sequence
AMPLITUDE = (0.5, 1.5)
#: MSE of predicting 0: E[A^2 sin^2] = E[A^2] / 2 with A ~ U[0.5, 1.5] (E[A^2] = 1 + 1/12).
BASELINE_MSE = 13.0 / 24.0


@dataclass
class SineGenConfig(DataConfig):
    name: str = "sine_gen"
    seq_len: int = 50
    val_size: int = 1024
    val_seed: int = 1234


@register_task("sine_gen", config=SineGenConfig)
class SineGeneration(Task):
    metric_names = ("loss", "mse", "baseline_ratio")

    def __init__(
        self,
        seq_len: int = 50,
        batch_size: int = 64,
        val_size: int = 1024,
        val_seed: int = 1234,
        device: torch.device | str = "cpu",
    ) -> None:
        if seq_len < 2:
            raise ValueError(f"sine_gen needs data.seq_len >= 2 (a waveform), got {seq_len}")
        if val_size < 1:
            raise ValueError(f"data.val_size must be >= 1, got {val_size}")
        super().__init__(batch_size, device)
        self.seq_len, self.val_size, self.val_seed = seq_len, val_size, val_seed
        self.spec = TaskSpec(input_size=3, output_size=1, shape="one_to_many", output_len=seq_len)
        self._generator = Generator(device=self.device)
        self._val = heldout_set(self.generate, val_size, val_seed, self._generator)

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

    def train_batch(self, seed: int, step: int) -> Batch:
        return self.generate(self.batch_size, self._generator.manual_seed(stream_seed(seed, step)))

    def val_set(self) -> Batch:
        return self._val

    def loss(self, pred: Tensor, y: Tensor) -> Tensor:
        return torch.mean((pred - y) ** 2)

    def sequence_loss(self, pred: Tensor, y: Tensor, last_only: bool = True) -> Tensor:
        per_step = ((pred - y) ** 2).sum(dim=-1)
        return per_step[:, -1] if last_only else per_step.sum(dim=1)

    def metrics(self, pred: Decoded, y: Tensor) -> dict[str, float]:
        mse = float(torch.mean((pred.generated.double() - y.double()) ** 2))
        loss = float(torch.mean((pred.teacher_forced.double() - y.double()) ** 2))
        return {"loss": loss, "mse": mse, "baseline_ratio": mse / BASELINE_MSE}
