"""seqnet-compare: the gradient profiles of several runs in one figure and one table.

One module per concern: ``runs`` (finding and loading run folders), ``labels`` (what differs
between runs), ``steps`` (which training step each run shows), ``table`` (the printed numbers),
``plot`` (the figure) and ``command`` (the command line, ``main``).
"""

from seqnet.cli.compare.command import compare, main
from seqnet.cli.compare.labels import differing_keys, flatten_config, run_labels, run_names
from seqnet.cli.compare.runs import CompareError, Run, find_runs, load_run

__all__ = [
    "CompareError",
    "Run",
    "compare",
    "differing_keys",
    "find_runs",
    "flatten_config",
    "load_run",
    "main",
    "run_labels",
    "run_names",
]
