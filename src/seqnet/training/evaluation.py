"""Evaluation: a model's task metrics on the validation set, a given batch, or the test set."""

from __future__ import annotations

import torch

from seqnet.data import Batch, Task
from seqnet.models import Model, concat_predictions
from seqnet.tblog.writer import RunWriter


@torch.no_grad()
def evaluate(
    model: Model, task: Task, batch: Batch | None = None, chunk: int = 1024
) -> dict[str, float]:
    """``task.metrics`` of the model's predictions on ``batch`` (default: the validation set),
    in eval mode (no dropout). ``model.predict`` is a forward pass, or greedy decoding for
    decoders: the shape's business, not the loop's."""
    was_training = model.training
    model.eval()
    x, y = task.val_set() if batch is None else batch
    preds = [model.predict(x[i : i + chunk], y[i : i + chunk]) for i in range(0, len(x), chunk)]
    model.train(was_training)
    return task.metrics(concat_predictions(preds), y)


def evaluate_test_set(model: Model, task: Task, writer: RunWriter, step: int) -> dict[str, float]:
    """Once, at the end: the metrics on the task's test set, logged as ``test/<name>`` and
    ``final/test_<name>``; nothing for tasks without a test set."""
    test_set = task.test_set()
    if test_set is None:
        return {}
    metrics = evaluate(model, task, test_set)
    writer.scalars({f"test/{k}": v for k, v in metrics.items()}, step)
    writer.scalars({f"final/test_{k}": v for k, v in metrics.items()}, step)
    return metrics
