"""Tasks whose data is generated, not loaded: training batch k comes from the seed of (seed, k)
and the validation set from its own seed, in blocks (``seqnet.data.seeds``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Generator

from seqnet.data.seeds import heldout_set, stream_seed
from seqnet.data.task import Batch, DataConfig, Task


@dataclass
class GeneratedConfig(DataConfig):
    """The keys every generated task has, beside its own."""

    val_size: int = 1024
    # The validation set (and the gradient probe batch drawn from it) has its own seed, so runs
    # with different training seeds are measured on the same sequences.
    val_seed: int = 1234


class GeneratedTask(Task):
    """Base for generated tasks: a subclass implements ``generate(n, generator)``, vectorised on
    ``self.device``; batches and the validation set are drawn from it here."""

    def __init__(
        self, config: Any = None, /, *, device: torch.device | str = "cpu", **fields: Any
    ) -> None:
        super().__init__(config, device=device, **fields)
        self.val_size, self.val_seed = self.config.val_size, self.config.val_seed
        if self.val_size < 1:
            raise ValueError(f"data.val_size must be >= 1, got {self.val_size}")
        self._generator = Generator(device=self.device)
        self._val: Batch | None = None

    def generate(self, n: int, generator: Generator) -> Batch:
        """``n`` examples drawn with ``generator`` (and nothing else: no global RNG)."""
        raise NotImplementedError

    def train_batch(self, seed: int, step: int) -> Batch:
        # A counter-based stream: batch k depends only on (seed, k), so resuming needs no
        # generator state and a resumed run sees the same batches as an uninterrupted one.
        return self.generate(self.batch_size, self._generator.manual_seed(stream_seed(seed, step)))

    def val_set(self) -> Batch:
        if self._val is None:  # drawn once, on first use
            self._val = heldout_set(self.generate, self.val_size, self.val_seed, self._generator)
        return self._val
