"""Classification with one label per example (many-to-one, one-to-one): cross-entropy and
accuracy; the model's output is (batch, classes) logits."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from seqnet.data.task import Task


class Classification(Task):
    """Loss and metrics of a task whose targets are class ids (batch,) int64."""

    metric_names = ("loss", "accuracy")

    def loss(self, pred: Tensor, y: Tensor) -> Tensor:
        return F.cross_entropy(pred, y)

    def sequence_loss(self, pred: Tensor, y: Tensor, last_only: bool = True) -> Tensor:
        return F.cross_entropy(pred, y, reduction="none")

    def metrics(self, pred: Tensor, y: Tensor) -> dict[str, float]:
        loss = float(F.cross_entropy(pred.double(), y))
        accuracy = float((pred.argmax(dim=-1) == y).double().mean())
        return {"loss": loss, "accuracy": accuracy}
