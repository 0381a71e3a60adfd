"""seqnet-compare: the gradient profiles of several runs in one figure and one table.

One module per concern: ``runs`` (finding and loading run folders), ``labels`` (what differs
between runs), ``steps`` (which training step each run shows), ``table`` (the printed numbers),
``plot`` (the figure), ``sweep_table`` (one row per run, by val/loss; ``--csv``) and
``command`` (the command line, ``main``).
"""

from seqnet.cli.compare.command import compare, main
from seqnet.cli.compare.labels import differing_keys, flatten_config, run_labels, run_names
from seqnet.cli.compare.runs import CompareError, Run, find_runs, load_run
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
