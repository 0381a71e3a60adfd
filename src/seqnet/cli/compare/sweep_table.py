"""The table of a sweep: one row per run, sorted by the validation loss, with what differs
between the runs, their final metrics and their gradient summaries. Printed by seqnet-compare,
and written whole with ``--csv FILE``.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

from seqnet.analysis.labels import differing_keys
from seqnet.analysis.runs import Run
from seqnet.cli.compare.profile_table import aligned
from seqnet.gradients.summaries import SUMMARIES

SORT_METRIC = "val/loss"


@dataclass
class SweepRow:
    """One run: its label and differing settings, final metrics, and gradient summaries of every
    logged quantity (``<q>/<summary>`` for every summary) at ``grad_step``."""

    label: str
    path: Path
    settings: dict[str, Hashable]
    metrics: dict[str, float | int]
    grad_step: int | None  # None: the run has no gradient profiles
    gradients: dict[str, float | int]

    @property
    def sort_key(self) -> tuple[bool, float]:
        value = self.metrics.get(SORT_METRIC)
        known = isinstance(value, int | float) and math.isfinite(value)
        return (not known, float(value) if known else 0.0)  # runs without a loss go last


def sweep_rows(
    runs: Sequence[Run], labels: Sequence[str], steps: Sequence[int | None]
) -> list[SweepRow]:
    """The rows of ``runs`` (labelled, each summarised at its plotted step), best first."""
    keys = differing_keys([run.config for run in runs])
    rows = []
    for run, label, step in zip(runs, labels, steps, strict=True):
        gradients: dict[str, float | int] = {}
        if step is not None:
            profile = run.profile(step)
            for q in run.norms:
                for name, value in profile.summary(q, run.horizon_threshold).items():
                    gradients[f"{q}/{name}"] = value
        metrics = {k: v for k, v in run.metrics.items() if isinstance(v, int | float)}
        settings = {k: run.config[k] for k in keys if k in run.config}
        rows.append(SweepRow(label, run.path, settings, metrics, step, gradients))
    return sorted(rows, key=lambda row: row.sort_key)


def _union(dicts: Sequence[dict[str, object]], first: Sequence[str] = ()) -> list[str]:
    order = dict.fromkeys(k for d in dicts for k in d)
    return [k for k in first if k in order] + [k for k in order if k not in first]


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_sweep_table(rows: Sequence[SweepRow], quantity: str) -> str:
    """Best first: the label, the final metrics and ``quantity``'s gradient summaries."""
    metrics = _union([r.metrics for r in rows], first=[SORT_METRIC])
    profiles = any(row.grad_step is not None for row in rows)
    summaries = [f"{quantity}/{s}" for s in SUMMARIES] if profiles else []
    head = ["#", "run", *metrics, *(["grad_step"] if profiles else []), *summaries]
    lines = [head]
    for rank, row in enumerate(rows, start=1):
        values = [row.metrics.get(m) for m in metrics]
        if profiles:
            values += [row.grad_step, *(row.gradients.get(s) for s in summaries)]
        lines.append([str(rank), row.label, *(_cell(v) for v in values)])
    title = f"runs by {SORT_METRIC} (best first); --csv FILE writes every column:"
    return "\n".join([title, *aligned(lines, left=2)])


def write_csv(rows: Sequence[SweepRow], path: Path) -> None:
    """Every row with every column: run, the differing keys, the final metrics, grad_step, the
    gradient summaries of every quantity, and the run's folder."""
    settings = _union([r.settings for r in rows])
    metrics = _union([r.metrics for r in rows], first=[SORT_METRIC])
    gradients = _union([r.gradients for r in rows])
    columns = ["run", *settings, *metrics, "grad_step", *gradients, "path"]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    "run": row.label,
                    **row.settings,
                    **row.metrics,
                    "grad_step": row.grad_step,
                    **row.gradients,
                    "path": str(row.path),
                }
            )
