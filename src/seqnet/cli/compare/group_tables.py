"""The printed grouped tables of seqnet-compare, one per metric (rows: groups, best first), and
their CSV (``seqnet.analysis.grouped_table.records``: one row per group, every metric)."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path

from seqnet.analysis.grouped_table import SORT_METRIC, GroupRow, metric_names, records
from seqnet.analysis.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, PERMUTATION_BELOW
from seqnet.cli.compare.profile_table import aligned


def number(value: float | None, digits: int = 4) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.{digits}g}"


def printed_metrics(rows: Sequence[GroupRow], quantity: str) -> list[str]:
    """What the printed tables show: the validation and test metrics, and ``quantity``'s
    gradient summaries (every other metric is in the CSV)."""
    names = metric_names(rows)
    shown = [m for m in names if m.startswith(("val/", "test/"))]
    return shown + [m for m in names if m.startswith(f"{quantity}/")]


def format_group_tables(
    rows: Sequence[GroupRow], quantity: str, reference: str | None = None
) -> str:
    """A table per metric: each group's n, mean, standard deviation, median and 95% interval of
    the mean; with a ``reference`` group, the difference of means against it, its interval and
    the p-value (and which test gave it)."""
    steps = sorted({row.step for row in rows if row.step is not None})
    at = f"at training step {', '.join(map(str, steps))}" if steps else "none (no profiles)"
    lines = [
        f"metrics by group, best first by the mean {SORT_METRIC}; gradient summaries {at}. "
        f"95% CI: percentile bootstrap of the mean ({BOOTSTRAP_RESAMPLES} "
        f"resamples, seed {BOOTSTRAP_SEED})"
        + (
            f"; p: two-sided, Welch's t-test (n >= {PERMUTATION_BELOW} in both groups) or an "
            f"exact permutation test (fewer), against {reference!r}"
            if reference
            else ""
        )
    ]
    singles = [row.group.label for row in rows if row.group.n < 2]
    for metric in printed_metrics(rows, quantity):
        head = ["#", "group", "n", "mean", "std", "median", "95% CI"]
        if reference:
            head += ["diff", "95% CI of diff", "p"]
        table = [head]
        for rank, row in enumerate(rows, start=1):
            stat = row.stats.get(metric)
            if stat is None:
                continue
            interval = (
                f"[{number(stat.ci_low)}, {number(stat.ci_high)}]"
                if math.isfinite(stat.ci_low)
                else "-"
            )
            cells = [str(rank), row.group.label, str(stat.n), number(stat.mean)]
            cells += [number(stat.std), number(stat.median), interval]
            if reference:
                diff = row.versus.get(metric) if row.versus is not None else None
                if diff is None:
                    cells += ["(reference)", "", ""]
                else:
                    d_interval = (
                        f"[{number(diff.ci_low)}, {number(diff.ci_high)}]"
                        if math.isfinite(diff.ci_low)
                        else "-"
                    )
                    p = f"{number(diff.p, 3)} ({diff.test})" if diff.test else "-"
                    cells += [number(diff.diff), d_interval, p]
            table.append(cells)
        lines += ["", f"{metric}:", *("  " + line for line in aligned(table, left=2))]
    if singles:
        lines.append(
            f"\nn=1, no interval: {'; '.join(singles)} (one run each: sweep more seeds, e.g. "
            "seed=range(5))"
        )
    lines.append("--csv FILE writes every metric and gradient summary of every quantity")
    return "\n".join(lines)


def write_group_csv(rows: Sequence[GroupRow], path: Path) -> None:
    """``records(rows)`` as CSV: one row per group; NaN and missing values are empty cells."""
    table = records(rows)
    columns = list(dict.fromkeys(k for record in table for k in record))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, restval="")
        writer.writeheader()
        for record in table:
            writer.writerow({k: _cell(v) for k, v in record.items()})


def _cell(value: object) -> object:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return value
