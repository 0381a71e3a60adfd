"""The adding problem (Hochreiter & Schmidhuber 1997): a many-to-one memory task.

Each step has two channels: a value ~ U[0, 1] and a marker. Exactly one marker is set in the
first half of the sequence and one in the second half; the target is the sum of the two marked
values. Predicting the mean (1.0) always gives MSE = Var(U1 + U2) = 1/6, the trivial baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Generator

from seqnet.data.base import Batch, TaskSpec
from seqnet.data.registry import DataConfig, register_task
from seqnet.data.regression import ScalarRegression
from seqnet.data.seeds import heldout_set, stream_seed

BASELINE_MSE = 1.0 / 6.0


@dataclass
class AddingConfig(DataConfig):
    name: str = "adding"
    seq_len: int = 50
    val_size: int = 1024
    # The validation set (and the gradient probe batch drawn from it) has its own seed, so runs
    # with different training seeds are measured on the same sequences.
    val_seed: int = 1234


@register_task("adding", config=AddingConfig)
class AddingProblem(ScalarRegression):
    spec = TaskSpec(input_size=2, output_size=1, input_kind="real", output_mode="last")
    baseline = BASELINE_MSE

    def __init__(
        self,
        seq_len: int = 50,
        batch_size: int = 64,
        val_size: int = 1024,
        val_seed: int = 1234,
        device: torch.device | str = "cpu",
    ) -> None:
        if seq_len < 2:
            raise ValueError(
                f"the adding problem needs data.seq_len >= 2 (one marker per half), got {seq_len}"
            )
        if val_size < 1:
            raise ValueError(f"data.val_size must be >= 1, got {val_size}")
        super().__init__(batch_size, device)
        self.seq_len, self.val_size, self.val_seed = seq_len, val_size, val_seed
        self._generator = Generator(device=self.device)
        self._val = heldout_set(self.generate, val_size, val_seed, self._generator)

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

    def train_batch(self, seed: int, step: int) -> Batch:
        # A counter-based stream: batch k depends only on (seed, k), so resuming needs no
        # generator state and a resumed run sees the same batches as an uninterrupted one.
        return self.generate(self.batch_size, self._generator.manual_seed(stream_seed(seed, step)))

    def val_set(self) -> Batch:
        return self._val
