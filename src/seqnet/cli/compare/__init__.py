"""seqnet-compare: the gradient profiles, summaries and validation curves of several runs in one
figure, runs that differ only in their seed grouped with their spread, and tables of every
group's metrics with intervals (and differences between groups).

Finding, grouping and describing runs is ``seqnet.analysis``'s; here: ``command`` (the command
line, ``main``), ``plot`` (the figure), ``profile_table`` (the profile table), ``group_tables`` (the
grouped metric tables and their CSV) and ``sweep_table`` (one row per run, ``--no-group``).
"""

from seqnet.analysis.labels import differing_keys, flatten_config, run_labels, run_names
from seqnet.analysis.runs import CompareError, Run, find_runs, load_run
from seqnet.cli.compare.command import compare, main
from seqnet.cli.compare.sweep_table import SweepRow, format_sweep_table, sweep_rows, write_csv

__all__ = [
    "CompareError",
    "Run",
    "SweepRow",
    "compare",
    "differing_keys",
    "find_runs",
    "flatten_config",
    "format_sweep_table",
    "load_run",
    "main",
    "run_labels",
    "run_names",
    "sweep_rows",
    "write_csv",
]
