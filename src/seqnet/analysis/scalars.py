"""A run's TensorBoard scalars (``<run>/tb/``), read with TensorBoard's own event reader and
without its UI: the validation curves that the comparisons draw with their spread, and every
scalar of a run as a table (``scalars``, ``seqnet-compare --scalars``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from seqnet.analysis.groups import Group

Curve = tuple[np.ndarray, np.ndarray]  # (training steps, values), by step


#: The columns of ``scalars`` (and of ``seqnet-compare --scalars``'s CSV).
SCALAR_COLUMNS = ("run", "tag", "step", "value", "wall_time")


def _accumulator(run_dir: Path) -> Any:
    """TensorBoard's reader of the run's ``tb/`` event files, loaded (None without ``tb/``)."""
    folder = run_dir / "tb"
    if not folder.is_dir():
        return None
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0})  # 0: keep all
    accumulator.Reload()
    return accumulator


def read_scalars(run_dir: Path, prefix: str = "") -> dict[str, Curve]:
    """Every scalar tag of the run under ``prefix`` (``"val/"``), as its steps and values. A step
    logged twice (a run resumed in its folder repeats no step, but a rerun could) keeps its last
    value. A run without ``tb/`` has none."""
    accumulator = _accumulator(run_dir)
    if accumulator is None:
        return {}
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


def scalar_records(run_dirs: Sequence[Path], names: Sequence[str]) -> list[dict[str, Any]]:
    """Every scalar event of every run, one dict per value with the keys of ``SCALAR_COLUMNS``
    (``run``: its entry of ``names``): runs in the given order, tags sorted, each tag's values
    in the order they were written. Values are TensorBoard's float32, as float."""
    records = []
    for run_dir, name in zip(run_dirs, names, strict=True):
        accumulator = _accumulator(run_dir)
        if accumulator is None:
            continue
        for tag in sorted(accumulator.Tags().get("scalars", [])):
            for event in accumulator.Scalars(tag):
                records.append(
                    {
                        "run": name,
                        "tag": tag,
                        "step": int(event.step),
                        "value": float(event.value),
                        "wall_time": float(event.wall_time),
                    }
                )
    return records


def scalars(folders: str | Path | Sequence[str | Path]) -> Any:
    """Every TensorBoard scalar of a run, or of every run of a sweep, as a table with the columns
    ``run, tag, step, value, wall_time``, read from the event files in ``<run>/tb/`` without
    TensorBoard running: a pandas DataFrame, or a list of dicts where pandas is not installed.

    ``folders``: a run folder, a sweep folder or a list of them (found as ``seqnet-compare``
    finds runs); ``run`` is the run's folder name (``sweep/job`` where two share a name).
    ``tag`` is TensorBoard's (``train/loss``, ``val/loss``, ``grad_summary/h_l0/horizon``, ...);
    ``step`` is the training step (the timestep for ``grad_profile/*`` curves over a sequence).
    """
    from seqnet.analysis.labels import run_names
    from seqnet.analysis.runs import find_runs

    given = [folders] if isinstance(folders, str | Path) else list(folders)
    paths = find_runs(given)
    records = scalar_records(paths, run_names(paths))
    try:
        import pandas
    except ImportError:
        return records
    return pandas.DataFrame.from_records(records, columns=list(SCALAR_COLUMNS))
