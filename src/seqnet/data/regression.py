"""Many-to-one regression of one value per sequence (the adding problem, Mackey-Glass): mean
squared error, and its ratio to the task's trivial baseline."""

from __future__ import annotations

import torch
from torch import Tensor

from seqnet.data.task import Task


class ScalarRegression(Task):
    """Loss and metrics for a prediction of shape (batch, 1) against targets (batch,). A subclass
    sets ``baseline``, the MSE of its trivial predictor, which ``baseline_ratio`` divides by."""

    metric_names = ("loss", "mse", "baseline_ratio")
    baseline: float

    def loss(self, pred: Tensor, y: Tensor) -> Tensor:
        return torch.mean((pred.squeeze(-1) - y) ** 2)

    def sequence_loss(self, pred: Tensor, y: Tensor, last_only: bool = True) -> Tensor:
        # One output per sequence: last_only changes nothing.
        return (pred.squeeze(-1) - y) ** 2

    def metrics(self, pred: Tensor, y: Tensor) -> dict[str, float]:
        mse = float(torch.mean((pred.squeeze(-1).double() - y.double()) ** 2))
        return {"loss": mse, "mse": mse, "baseline_ratio": mse / self.baseline}
