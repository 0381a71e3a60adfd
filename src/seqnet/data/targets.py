"""Losses and metrics of targets that may be padded (``data=arrays``): class ids, padded with
``IGNORE_INDEX``, or values, padded with NaN; one per sequence (``(batch,)`` ids, ``(batch, D)``
values) or one per step (``(batch, T)`` ids, ``(batch, T, D)`` values). A padded step takes no
part in the loss, the metrics or a gradient probe, and ``ends`` gives each sequence's last real
step, where the probe loss ``last`` is taken and profiles are aligned (``Task.sequence_ends``).

A many-to-one task of variable-length sequences has its one target at each sequence's last
step and padding elsewhere (``pad_targets``), with a read-out at every step: the loss is then
the loss at each sequence's own end, exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from seqnet.data.task import IGNORE_INDEX
from seqnet.data.tokens import generation_accuracy, last_real_step, token_loss, token_sequence_loss


def pad_targets(y: Tensor, lengths: Tensor, steps: int, per_step: bool) -> Tensor:
    """Targets of sequences of ``lengths`` padded after their end (``per_step``: y is one per
    step) or placed at their last step, padding elsewhere (y is one per sequence)."""
    pad = IGNORE_INDEX if not y.is_floating_point() else float("nan")
    after_end = torch.arange(steps, device=y.device)[None, :] >= lengths[:, None]  # (batch, T)
    if per_step:
        mask = after_end if y.dim() == 2 else after_end.unsqueeze(-1)
        return y.masked_fill(mask, pad)
    out = y.new_full((len(y), steps, *y.shape[1:]), pad)
    out[torch.arange(len(y), device=y.device), lengths - 1] = y
    return out


def ends_of(real: Tensor) -> Tensor | None:
    """Each row's last real step, or None when every row is real to its last step."""
    if bool(real[:, -1].all()):
        return None
    return last_real_step(real)


class ClassTargets:
    """Class ids; the model's output is logits (batch[, T], classes)."""

    metric_names = ("loss", "accuracy")

    def loss(self, pred: Tensor, y: Tensor) -> Tensor:
        return F.cross_entropy(pred.reshape(-1, pred.shape[-1]), y.reshape(-1))

    def sequence_loss(self, pred: Tensor, y: Tensor, last_only: bool) -> Tensor:
        if y.dim() == 1:
            return F.cross_entropy(pred, y, reduction="none")
        return token_sequence_loss(pred, y, last_only)

    def metrics(self, pred: Tensor, y: Tensor) -> dict[str, float]:
        real = y != IGNORE_INDEX
        logits, labels = pred[real], y[real]  # the real steps only (no float64 copy of padding)
        loss = float(F.cross_entropy(logits.double(), labels))
        accuracy = float((logits.argmax(dim=-1) == labels).double().mean())
        return {"loss": loss, "accuracy": accuracy}

    def ends(self, y: Tensor) -> Tensor | None:
        return None if y.dim() == 1 else ends_of(y != IGNORE_INDEX)


class ValueTargets:
    """Values; the model's output has their shape. ``baseline``: the MSE of predicting the
    training targets' mean, ``baseline_ratio``'s divisor."""

    metric_names = ("loss", "mse", "baseline_ratio")

    def __init__(self, baseline: float) -> None:
        self.baseline = baseline

    @staticmethod
    def squared_errors(pred: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """Squared errors (0 where padded) and the mask of real values."""
        real = ~torch.isnan(y)
        return torch.where(real, pred - y, torch.zeros_like(pred)) ** 2, real

    def loss(self, pred: Tensor, y: Tensor) -> Tensor:
        errors, real = self.squared_errors(pred, y)
        return errors.sum() / real.sum()

    def sequence_loss(self, pred: Tensor, y: Tensor, last_only: bool) -> Tensor:
        errors, real = self.squared_errors(pred, y)
        per_step = errors.sum(dim=-1)  # (batch,) one per sequence, or (batch, T)
        if per_step.dim() == 1:
            return per_step
        if not last_only:
            return per_step.sum(dim=1)
        last = last_real_step(real.any(dim=-1))
        return per_step.gather(1, last.unsqueeze(1)).squeeze(1)

    def metrics(self, pred: Tensor, y: Tensor) -> dict[str, float]:
        real = ~torch.isnan(y)
        mse = float(((pred[real].double() - y[real].double()) ** 2).mean())
        return {"loss": mse, "mse": mse, "baseline_ratio": mse / self.baseline}

    def ends(self, y: Tensor) -> Tensor | None:
        return None if y.dim() == 2 else ends_of(~torch.isnan(y).all(dim=-1))


class DecodedTokens:
    """Target sequences of ids ending with the end token, padded (an encoder-decoder)."""

    metric_names = ("loss", "token_accuracy", "sequence_accuracy")

    def loss(self, pred: Tensor, y: Tensor) -> Tensor:
        return token_loss(pred, y)

    def sequence_loss(self, pred: Tensor, y: Tensor, last_only: bool) -> Tensor:
        return token_sequence_loss(pred, y, last_only)

    def metrics(self, pred, y: Tensor) -> dict[str, float]:  # pred: Decoded
        token, sequence = generation_accuracy(pred.generated, y)
        loss = float(token_loss(pred.teacher_forced.double(), y))
        return {"loss": loss, "token_accuracy": token, "sequence_accuracy": sequence}

    def ends(self, y: Tensor) -> Tensor | None:
        return None


class DecodedValues(ValueTargets):
    """Target sequences of values (an encoder-decoder): ``loss`` is teacher-forced, ``mse``
    scores greedy decoding."""

    def metrics(self, pred, y: Tensor) -> dict[str, float]:  # pred: Decoded
        loss = float(torch.mean((pred.teacher_forced.double() - y.double()) ** 2))
        mse = float(torch.mean((pred.generated.double() - y.double()) ** 2))
        return {"loss": loss, "mse": mse, "baseline_ratio": mse / self.baseline}

    def ends(self, y: Tensor) -> Tensor | None:
        return None
