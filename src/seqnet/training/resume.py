"""Which checkpoint a run starts from.

``ckpt_path=auto`` resumes from the run directory's own ``checkpoints/last.pt`` when it exists
and starts fresh otherwise: the same command, run again (a requeued SLURM job, a rerun by hand
with a fixed ``hydra.run.dir``), continues where the last one stopped. A finished run
(checkpoint at ``trainer.max_steps`` and its ``metrics.json`` written) is left as it is. Which
runs may write into a folder at all: ``seqnet.training.run_folder``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

AUTO = "auto"


def own_checkpoint(run_dir: Path) -> Path:
    return run_dir / "checkpoints" / "last.pt"


def checkpoint_to_resume(ckpt_path: str | None, run_dir: Path) -> Path | None:
    """The checkpoint this run starts from: ``auto`` is the run directory's own, if any (None:
    a fresh start). Whether the run may write into ``run_dir`` is ``run_folder``'s rule."""
    if ckpt_path == AUTO:
        own = own_checkpoint(run_dir)
        return own if own.is_file() else None
    return Path(ckpt_path) if ckpt_path else None


def resumes_in_place(checkpoint: Path | None, run_dir: Path) -> bool:
    """True when the run continues its own folder (its TensorBoard files, gradients.npz)."""
    return checkpoint is not None and checkpoint.resolve() == own_checkpoint(run_dir).resolve()


def finished_metrics(checkpoint: dict[str, Any], run_dir: Path, max_steps: int) -> Any:
    """The metrics of a run already finished in ``run_dir``, or None when there is work left."""
    metrics_file = run_dir / "metrics.json"
    if int(checkpoint["step"]) < max_steps or not metrics_file.is_file():
        return None
    try:
        metrics = json.loads(metrics_file.read_text())
    except ValueError:
        return None  # cut off while written: finish again (nothing is trained past max_steps)
    log.info("%s already finished at step %d; nothing to do", run_dir, checkpoint["step"])
    return metrics
