"""The grouped table: for each group of runs and each metric, n, mean, standard deviation, median
and a 95% interval of the mean (``seqnet.analysis.stats``); against a reference group
(``versus``), each metric's difference with its interval and p-value.

The metrics are every number of the runs' ``metrics.json`` and every gradient summary of every
probed quantity at the plotted training step (``<q>/<summary>``, e.g. ``h_l0/horizon``). As
records (``records``, the CSV of ``seqnet-compare --csv``), one row per group: ``group``, a
column per group key, ``n``, ``grad_step``, then for every metric ``<metric>/n``,
``<metric>/mean``, ``<metric>/std``, ``<metric>/median``, ``<metric>/ci_low``,
``<metric>/ci_high`` and, with a reference group, ``<metric>/diff``, ``<metric>/diff_ci_low``,
``<metric>/diff_ci_high``, ``<metric>/p`` and ``<metric>/test`` (empty in the reference's row).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqnet.analysis.groups import SHORTHANDS, Group, check_group, group_runs, single_runs
from seqnet.analysis.labels import run_labels, run_names
from seqnet.analysis.runs import AnalysisError, Run, find_runs, load_run
from seqnet.analysis.stats import Description, Difference, describe, difference
from seqnet.analysis.steps import choose_steps

#: Groups are listed best first by this metric's mean (lower is better).
SORT_METRIC = "val/loss"
STAT_FIELDS = ("n", "mean", "std", "median", "ci_low", "ci_high")
DIFF_FIELDS = ("diff", "diff_ci_low", "diff_ci_high", "p", "test")


def run_values(run: Run, step: int | None) -> dict[str, float]:
    """One run's metrics: its ``metrics.json`` numbers and its gradient summaries at ``step``."""
    values = {
        k: float(v)
        for k, v in run.metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    if step in run.steps.tolist():
        profile = run.profile(step)
        for q in run.norms:
            for name, value in profile.summary(q, run.horizon_threshold).items():
                values[f"{q}/{name}"] = float(value)
    return values


@dataclass
class GroupRow:
    group: Group
    step: int | None  # the training step its gradient summaries are taken at (None: no profiles)
    stats: dict[str, Description]
    #: Against the reference group: None for the reference itself, or without one.
    versus: dict[str, Difference] | None = None

    @property
    def sort_key(self) -> tuple[bool, float]:
        stat = self.stats.get(SORT_METRIC)
        known = stat is not None and math.isfinite(stat.mean)
        return (not known, stat.mean if known else 0.0)  # groups without a loss go last


def group_rows(
    groups: Sequence[Group], steps: Sequence[int | None], versus: Group | None = None
) -> list[GroupRow]:
    """Every group's statistics (at its plotted step), best first by ``SORT_METRIC``."""
    values = {
        id(g): [run_values(run, step) for run in g.runs]
        for g, step in zip(groups, steps, strict=True)
    }
    rows = []
    for group, step in zip(groups, steps, strict=True):
        names = dict.fromkeys(k for v in values[id(group)] for k in v)
        stats = {m: describe([v.get(m, math.nan) for v in values[id(group)]]) for m in names}
        diffs = None
        if versus is not None and group is not versus:
            diffs = {
                m: difference(
                    [v.get(m, math.nan) for v in values[id(versus)]],
                    [v.get(m, math.nan) for v in values[id(group)]],
                )
                for m in names
            }
        rows.append(GroupRow(group, step, stats, diffs))
    return sorted(rows, key=lambda row: row.sort_key)


def metric_names(rows: Sequence[GroupRow]) -> list[str]:
    """Every metric of the rows: ``val/loss`` first, then the other ``metrics.json`` numbers and
    the gradient summaries, in the runs' order (``run_values`` puts the summaries last)."""
    names = list(dict.fromkeys(m for row in rows for m in row.stats))
    return [m for m in names if m == SORT_METRIC] + [m for m in names if m != SORT_METRIC]


def records(rows: Sequence[GroupRow]) -> list[dict[str, Any]]:
    """One dict per group, in the column layout of the module docstring (NaN left as NaN)."""
    keys = list(dict.fromkeys(k for row in rows for k in row.group.keys))
    names = metric_names(rows)
    out = []
    for row in rows:
        record: dict[str, Any] = {"group": row.group.label}
        record.update({k: row.group.keys.get(k) for k in keys})
        record.update(n=row.group.n, grad_step=row.step)
        for m in names:
            stat = row.stats.get(m) or describe([])
            record.update({f"{m}/{f}": getattr(stat, f) for f in STAT_FIELDS})
            if any(r.versus is not None for r in rows):
                diff = row.versus.get(m) if row.versus is not None else None
                record.update(
                    {
                        f"{m}/diff": diff.diff if diff else None,
                        f"{m}/diff_ci_low": diff.ci_low if diff else None,
                        f"{m}/diff_ci_high": diff.ci_high if diff else None,
                        f"{m}/p": diff.p if diff else None,
                        f"{m}/test": diff.test if diff else None,
                    }
                )
        out.append(record)
    return out


def find_group(groups: Sequence[Group], spec: str) -> Group:
    """The group ``--versus`` names: by its label, or by ``key=value`` pairs (comma-separated;
    ``model=lstm`` is short for ``model.name=lstm``) that only one group matches."""
    for group in groups:
        if group.label == spec:
            return group
    wanted = {}
    for item in spec.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            wanted = None
            break
        wanted[SHORTHANDS.get(key, key)] = value
    matches = []
    if wanted:
        for group in groups:
            config = group.runs[0].config
            if all(k in config and _matches(config[k], v) for k, v in wanted.items()):
                matches.append(group)
    if len(matches) == 1:
        return matches[0]
    listed = "; ".join(g.label for g in groups)
    how = "matches several groups" if matches else "names no group"
    raise AnalysisError(f"--versus {spec!r} {how}; the groups are: {listed}")


def _matches(value: object, wanted: str) -> bool:
    """A config value as ``--versus`` may name it: ``0.001`` for 1e-3, ``SGD`` for
    ``torch.optim.SGD``."""
    text = str(value)
    if text == wanted or text.rsplit(".", 1)[-1] == wanted:
        return True
    try:
        return float(text) == float(wanted)
    except ValueError:
        return False


def prepare_groups(
    runs: Sequence[Run],
    group: bool = True,
    group_by: Sequence[str] | None = None,
    step: int | None = None,
) -> tuple[list[Group], list[int | None], list[str]]:
    """The groups (each checked), the training step each shows (None: its runs have no gradient
    profiles), and notes about steps."""
    if group:
        groups = group_runs(runs, group_by)
        for g in groups:
            check_group(g)
    else:
        names = run_names([r.path for r in runs])
        groups = single_runs(runs, run_labels([r.config for r in runs], names))
    steps, notes = choose_steps([g.runs[0] for g in groups], [g.label for g in groups], step)
    return groups, steps, notes


def compare_runs(
    folders: Sequence[str | Path],
    group_by: Sequence[str] | None = None,
    group: bool = True,
    versus: str | None = None,
    step: int | None = None,
) -> Any:
    """The grouped table of the runs in ``folders`` (run folders or sweep folders), as
    ``seqnet-compare --csv`` writes it: a pandas DataFrame (one row per group, the columns of
    ``records``), or a list of dicts where pandas is not installed. ``group=False`` gives one row
    per run; ``versus`` adds the differences against that group."""
    runs = [load_run(p) for p in find_runs(folders)]
    groups, steps, _ = prepare_groups(runs, group, group_by, step)
    reference = find_group(groups, versus) if versus is not None else None
    table = records(group_rows(groups, steps, reference))
    try:
        import pandas
    except ImportError:
        return table
    return pandas.DataFrame.from_records(table)
