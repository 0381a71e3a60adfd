"""seqnet: a research framework for recurrent networks and their vanishing/exploding gradients.

From Python: ``seqnet.run(["model=gru"])`` trains one run and returns a ``RunResult`` (its
folder, metrics and config); ``seqnet.load_gradients(path)`` reads a run's ``gradients.npz``;
``seqnet.compare_runs(folders)`` gives the grouped table of ``seqnet-compare`` (a DataFrame);
``seqnet.scalars(run_dir)`` every TensorBoard scalar of a run (a DataFrame).
All are imported on first use, so ``import seqnet`` stays light for the small commands.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> module that defines it.
_LAZY = {
    "run": "seqnet.runner",
    "RunResult": "seqnet.runner",
    "load_gradients": "seqnet.gradients",
    "compare_runs": "seqnet.analysis",
    "scalars": "seqnet.analysis.scalars",
}

__all__ = ["RunResult", "__version__", "compare_runs", "load_gradients", "run", "scalars"]

if TYPE_CHECKING:
    from seqnet.analysis import compare_runs
    from seqnet.analysis.scalars import scalars
    from seqnet.gradients import load_gradients
    from seqnet.runner import RunResult, run


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'seqnet' has no attribute {name!r}")
