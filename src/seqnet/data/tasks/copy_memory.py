"""The copy memory task, as defined by the TCN paper (Bai, Kolter and Koltun, 2018), which follows
Arjovsky et al. (2016): aligned many-to-many, tokens in, a class at every step.

Input (length T + 20): 10 symbols drawn uniformly from 1..8, then T - 1 blanks (0), then the
delimiter (9) for the last 11 steps. Target: blanks (0) for the first T + 10 steps, then the 10
symbols. The delimiter marks the 11 final inputs, so the recall phase starts on the step after its
first appearance. ``data.seq_len`` is T.

A model without memory can at best know where the recall phase is (from the step index): it
predicts a blank with certainty before it and a uniform guess over the 8 symbols in it, a
cross-entropy of 10 ln 8 per sequence, or ``10 ln(8) / (T + 20)`` per step, the memoryless
baseline that ``baseline_ratio`` divides by.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Generator, Tensor
from torch.nn import functional as F

from seqnet.data.generated import GeneratedConfig, GeneratedTask
from seqnet.data.task import Batch, TaskSpec, register_task

MEMORY = 10  # symbols to remember
SYMBOLS = 8  # drawn from 1..8
BLANK, DELIMITER = 0, 9
VOCAB = 10  # 0 blank, 1..8 symbols, 9 delimiter (inputs and output classes, as the TCN code)


def memoryless_loss(seq_len: int) -> float:
    """Per-step cross-entropy of the best predictor without memory: 10 ln(8) / (T + 20)."""
    return MEMORY * math.log(SYMBOLS) / (seq_len + 2 * MEMORY)


@dataclass
class CopyMemoryConfig(GeneratedConfig):
    name: str = "copy_memory"
    # T, the blanks between the symbols and their recall: sequences are T + 20 steps long.
    seq_len: int = 50


@register_task("copy_memory", config=CopyMemoryConfig)
class CopyMemory(GeneratedTask):
    spec = TaskSpec(input_size=VOCAB, output_size=VOCAB, input_kind="tokens", output_mode="every")
    metric_names = ("loss", "baseline_ratio", "recall_accuracy")

    def __init__(
        self, config: Any = None, /, *, device: torch.device | str = "cpu", **fields: Any
    ) -> None:
        super().__init__(config, device=device, **fields)
        self.seq_len = self.config.seq_len
        if self.seq_len < 1:
            raise ValueError(
                f"copy_memory needs data.seq_len >= 1 (T, the number of blanks between the "
                f"symbols and their recall), got {self.seq_len}"
            )
        self.baseline = memoryless_loss(self.seq_len)

    def generate(self, n: int, generator: Generator) -> Batch:
        """``n`` sequences, vectorised: x and y (n, T + 20) int64."""
        T, dev = self.seq_len, self.device
        symbols = torch.randint(1, SYMBOLS + 1, (n, MEMORY), generator=generator, device=dev)
        x = torch.full((n, T + 2 * MEMORY), BLANK, dtype=torch.long, device=dev)
        x[:, :MEMORY] = symbols
        x[:, T + MEMORY - 1 :] = DELIMITER
        y = torch.full_like(x, BLANK)
        y[:, T + MEMORY :] = symbols
        return Batch(x, y)

    def loss(self, pred: Tensor, y: Tensor) -> Tensor:
        """Mean cross-entropy over every step of every sequence."""
        return F.cross_entropy(pred.flatten(0, 1), y.flatten())

    def sequence_loss(self, pred: Tensor, y: Tensor, last_only: bool = True) -> Tensor:
        per_step = F.cross_entropy(pred.transpose(1, 2), y, reduction="none")  # (batch, time)
        return per_step[:, -1] if last_only else per_step.sum(dim=1)

    def metrics(self, pred: Tensor, y: Tensor) -> dict[str, float]:
        loss = float(F.cross_entropy(pred.double().flatten(0, 1), y.flatten()))
        recall = pred[:, -MEMORY:].argmax(-1) == y[:, -MEMORY:]
        return {
            "loss": loss,
            "baseline_ratio": loss / self.baseline,
            "recall_accuracy": float(recall.double().mean()),
        }
