"""A run's TensorBoard scalars (``<run>/tb/``), read without TensorBoard's UI: the validation
curves that the comparisons draw with their spread."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from seqnet.analysis.groups import Group

Curve = tuple[np.ndarray, np.ndarray]  # (training steps, values), by step


def read_scalars(run_dir: Path, prefix: str = "") -> dict[str, Curve]:
    """Every scalar tag of the run under ``prefix`` (``"val/"``), as its steps and values. A step
    logged twice (a run resumed in its folder repeats no step, but a rerun could) keeps its last
    value. A run without ``tb/`` has none."""
    folder = run_dir / "tb"
    if not folder.is_dir():
        return {}
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    accumulator.Reload()
    curves: dict[str, Curve] = {}
    for tag in accumulator.Tags().get("scalars", []):
        if not tag.startswith(prefix):
            continue
        by_step = {int(e.step): float(e.value) for e in accumulator.Scalars(tag)}
        steps = np.array(sorted(by_step), dtype=np.int64)
        curves[tag] = (steps, np.array([by_step[s] for s in steps.tolist()], dtype=np.float64))
    return curves


def group_curves(group: Group, prefix: str) -> dict[str, Curve]:
    """Each tag under ``prefix`` that every run of the group logged: the steps all of them
    logged it at, and the (runs, steps) values there."""
    per_run = [read_scalars(run.path, prefix) for run in group.runs]
    tags = set.intersection(*(set(curves) for curves in per_run)) if per_run else set()
    curves = {}
    for tag in sorted(tags):
        common = set.intersection(*(set(c[tag][0].tolist()) for c in per_run))
        steps = np.array(sorted(common), dtype=np.int64)
        if not len(steps):
            continue
        values = np.stack([c[tag][1][np.searchsorted(c[tag][0], steps)] for c in per_run])
        curves[tag] = (steps, values)
    return curves
