"""Comparing runs: finding and loading run folders, grouping runs that differ only in their seed,
statistics across a group (mean, spread, a bootstrap interval) and between groups (difference,
interval, p-value), and the grouped table that ``seqnet-compare`` prints and writes as CSV.

From Python, ``seqnet.compare_runs(["outputs/multirun/<timestamp>"])`` returns that table as a
pandas DataFrame (a list of dicts without pandas), and ``seqnet.scalars(run_dir)``
(``seqnet.analysis.scalars.scalars``) every TensorBoard scalar of a run (columns run, tag, step,
value, wall_time).
"""

from seqnet.analysis.grouped_table import compare_runs, group_rows, records
from seqnet.analysis.groups import Group, check_group, group_runs
from seqnet.analysis.runs import AnalysisError, Run, find_runs, load_run
from seqnet.analysis.stats import Description, Difference, describe, difference

__all__ = [
    "AnalysisError",
    "Description",
    "Difference",
    "Group",
    "Run",
    "check_group",
    "compare_runs",
    "describe",
    "difference",
    "find_runs",
    "group_rows",
    "group_runs",
    "load_run",
    "records",
]
