"""What the loop watches in every step: throughput, sudden gradient jumps, and divergence
(too many non-finite steps in a row, weights that are no longer finite when a checkpoint is
due, a validation loss grown to finite garbage)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from seqnet.errors import TrainingDiverged
from seqnet.training.checkpoint_fields import nonfinite_entries

log = logging.getLogger(__name__)


class Throughput:
    """Steps per second since the last ``rate()`` call."""

    def __init__(self) -> None:
        self.start, self.steps = time.perf_counter(), 0

    def tick(self) -> None:
        self.steps += 1

    def rate(self) -> float:
        elapsed = time.perf_counter() - self.start
        rate = self.steps / elapsed if elapsed > 0 else 0.0
        self.start, self.steps = time.perf_counter(), 0
        return rate


def warn_on_jump(
    step: int, last_norm: float | None, norm: float, decades: float, clip: float | None
) -> None:
    """A warning when the gradient norm grows by more than ``decades`` orders of magnitude."""
    if last_norm and norm > last_norm * 10**decades:
        log.warning(
            "step %d: gradient norm jumped from %.3g to %.3g (%.1f orders of magnitude)%s",
            step,
            last_norm,
            norm,
            math.log10(norm / last_norm),
            "" if clip else "; consider trainer.clip_grad_norm=1.0",
        )


def diverged(in_a_row: int, step: int, ckpt_file: Path) -> TrainingDiverged:
    kept = kept_checkpoint(ckpt_file)
    return TrainingDiverged(
        f"loss or gradient was NaN/inf for {in_a_row} steps in a row (up to step {step}); "
        f"stopped. The last good checkpoint is kept at {kept}. Try a lower optim.lr or "
        "trainer.clip_grad_norm=1.0"
    )


def kept_checkpoint(ckpt_file: Path) -> Path | str:
    return ckpt_file if ckpt_file.exists() else "(none written yet)"


def check_finite_state(
    step: int, model_state: Mapping[str, Any], optimizer_state: Any, ckpt_file: Path
) -> None:
    """Before a checkpoint is written: weights or optimizer state with NaN or inf in them are
    never saved (the last good checkpoint stays); the run stops as diverged, naming them."""
    bad = nonfinite_entries(model_state, optimizer_state)
    if not bad:
        return
    weights = [t for t in model_state.values() if t.is_floating_point()]
    bad_weights = sum(int((~t.isfinite()).sum()) for t in weights)
    if bad_weights:
        names = [e.split(":")[0].removeprefix("model ") for e in bad if e.startswith("model ")]
        listed = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        total = sum(t.numel() for t in weights)
        what = (
            f"the model's weights are not finite ({bad_weights} of {total} values are NaN or "
            f"inf, in {listed})"
        )
    else:
        what = f"the optimizer's state is not finite ({'; '.join(bad[:3])})"
    raise TrainingDiverged(
        f"after step {step} {what}, so no checkpoint was written; the last good checkpoint is "
        f"kept at {kept_checkpoint(ckpt_file)}. Try a lower optim.lr or "
        "trainer.clip_grad_norm=1.0"
    )


#: A validation loss this many times the run's first training loss has diverged: an untrained
#: model is at chance level, and training does not make it a thousand times worse.
DIVERGED_FACTOR = 1e3


class GarbageWatch:
    """Warns once when the validation loss, still finite, has grown past ``DIVERGED_FACTOR``
    times the run's first training loss: weights blown up to huge finite values (a huge
    ``optim.lr``) that the NaN/inf checks cannot see."""

    def __init__(self, lr: float) -> None:
        self.lr = lr
        self.first: tuple[int, float] | None = None  # (step, training loss)
        self.warned = False

    def train_loss(self, step: int, loss: float) -> None:
        if self.first is None and math.isfinite(loss) and loss > 0:
            self.first = (step, loss)

    def val_loss(self, step: int, loss: float) -> None:
        if self.warned or self.first is None or not math.isfinite(loss):
            return
        first_step, first = self.first
        if loss > DIVERGED_FACTOR * first:
            self.warned = True
            log.warning(
                "step %d: val/loss %.3g is %.3g times the training loss at step %d: the model "
                "diverged (its weights are finite but meaningless). Try a lower optim.lr (this "
                "run: %s) or trainer.clip_grad_norm=1.0",
                step,
                loss,
                loss / first,
                first_step,
                self.lr,
            )
