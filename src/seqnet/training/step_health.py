"""What the loop watches in every step: throughput, sudden gradient jumps, and divergence
(too many non-finite steps in a row)."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

from seqnet.errors import TrainingDiverged

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
    kept = ckpt_file if ckpt_file.exists() else "(none written yet)"
    return TrainingDiverged(
        f"loss or gradient was NaN/inf for {in_a_row} steps in a row (up to step {step}); "
        f"stopped. The last good checkpoint is kept at {kept}. Try a lower optim.lr or "
        "trainer.clip_grad_norm=1.0"
    )
