"""The task interface: what a model needs to know (``TaskSpec``) and what training needs (``Task``).

The four input/output shapes differ only in ``TaskSpec``: real or token inputs, and an output at
the last step (many-to-one) or at every step (many-to-many).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import Tensor


@dataclass(frozen=True)
class TaskSpec:
    """The shape of a task's inputs and outputs, all a model needs to build its encoder/head."""

    input_size: int
    output_size: int
    #: "real": inputs are (batch, time, input_size) floats; "tokens": (batch, time) int64 ids
    #: below ``input_size`` (the vocabulary size).
    input_kind: Literal["real", "tokens"] = "real"
    #: "last": one output per sequence (many-to-one); "every": one per timestep.
    output_mode: Literal["last", "every"] = "last"


class Batch(NamedTuple):
    x: Tensor
    y: Tensor


class Task:
    """Base class for tasks. Data is generated (or loaded from what ships with the installed
    packages) once, on ``device``; nothing is downloaded.

    A task validates its own options in its constructor (``ValueError`` naming the key and the
    fix); only the keys its config declares exist, so Hydra refuses the others by name.
    """

    spec: TaskSpec
    #: Metric names returned by ``metrics`` (logged as ``val/<name>``).
    metric_names: tuple[str, ...] = ()

    def __init__(self, batch_size: int, device: torch.device | str = "cpu") -> None:
        if batch_size < 1:
            raise ValueError(f"data.batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.device = torch.device(device)

    def train_batch(self, seed: int, step: int) -> Batch:
        """Training batch number ``step`` of the stream ``seed``: a pure function of both, so a
        resumed run sees exactly the batches an uninterrupted one would."""
        raise NotImplementedError

    def val_set(self) -> Batch:
        """The fixed validation set. Its first sequences are the gradient probe batch, so they
        must not depend on the set's size (see ``seqnet.data.seeds.heldout_set``)."""
        raise NotImplementedError

    def test_set(self) -> Batch | None:
        """The held-out test set, for tasks that have one (evaluated once, at the end)."""
        return None

    def loss(self, pred: Tensor, y: Tensor) -> Tensor:
        """The training loss: mean over the batch (and over timesteps for per-step outputs)."""
        raise NotImplementedError

    def sequence_loss(self, pred: Tensor, y: Tensor, last_only: bool = True) -> Tensor:
        """Per-sequence loss, shape (batch,): for gradient probes. With per-step outputs,
        ``last_only`` picks the loss at the final output, else the sum over timesteps."""
        raise NotImplementedError

    def metrics(self, pred: Tensor, y: Tensor) -> dict[str, float]:
        """Validation metrics over the whole validation set; must include ``"loss"``."""
        raise NotImplementedError
