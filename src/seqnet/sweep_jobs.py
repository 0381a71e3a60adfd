"""The jobs of a sweep, one record each, and the summary printed when the sweep ends.

A job that stops on a seqnet error (bad input, a diverged run) prints its one line and returns a
``FailedJob`` instead of raising: Hydra's basic sweeper would raise the first failed job's
exception at the end of the batch (a traceback, and the jobs of later batches never run), while
the sweep should go on. The Optuna sweeper cannot read a ``FailedJob`` as a number and records
the trial as FAIL (with a ``max_failure_rate`` below 1 the job is also marked failed, so that
the sweeper's limit holds). Each job, finished or failed, appends one line to ``<sweep>/jobs.jsonl``
(``SweepRecord.on_job_end``, in whichever process runs the job: joblib and submitit workers
too), and the sweep's summary is made from those lines: the sweep folder, the jobs that finished
and failed, the best job by the sweep's objective and the TensorBoard command for the folder.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from seqnet.errors import SeqnetError

#: One JSON line per job of the sweep, written as each job ends.
JOBS_FILE = "jobs.jsonl"
#: The value a job returns to the sweeper (what Optuna optimises): the final validation loss.
OBJECTIVE = "val/loss"
_REPORTED = "job failed, reported above: "


class JobFailed(SeqnetError):
    """Raised by ``float(FailedJob)``: the sweeper's record that a job failed."""


class FailedJob:
    """What a job of a sweep returns when it stopped on a seqnet error (already printed)."""

    def __init__(self, error: str) -> None:
        self.error = error

    def __float__(self) -> float:
        raise JobFailed(_REPORTED + self.error)

    def __repr__(self) -> str:
        return f"FailedJob({self.error!r})"


class DropReportedFailures(logging.Filter):
    """Drops the Optuna sweeper's warning ``Failed experiment: ...`` for a job whose error the job
    has printed already (every error prints once)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Failed experiment: " + _REPORTED)


def quiet_optuna_failures() -> None:
    logger = logging.getLogger("hydra_plugins.hydra_optuna_sweeper._impl")
    if not any(isinstance(f, DropReportedFailures) for f in logger.filters):
        logger.addFilter(DropReportedFailures())


def job_label(hydra: DictConfig) -> str:
    """``job #N: <its folder in the sweep>`` (``hydra``: the job's Hydra config), as the error
    line and the summary name a job."""
    folder = os.path.relpath(str(hydra.runtime.output_dir), str(hydra.sweep.dir))
    return f"job #{hydra.job.num}: {folder}"


@dataclass
class JobRecord:
    num: int
    folder: str  # the job's folder, relative to the sweep's
    error: str | None  # None: finished
    value: float | None  # the objective, when the job finished with a finite one


def record_job(hydra: DictConfig, status_ok: bool, returned: Any) -> None:
    """Append the record of the job that just ended (``SweepRecord.on_job_end``; ``hydra``: the
    job's Hydra config, ``returned``: what the task returned, or the exception it raised)."""
    sweep_dir = Path(str(hydra.sweep.dir))
    folder = Path(str(hydra.runtime.output_dir))
    error, value = None, None
    if not status_ok:  # an exception that is not seqnet's (Hydra reports it with its traceback)
        error = f"{type(returned).__name__}: {returned}"
    elif isinstance(returned, FailedJob):
        error = returned.error
    elif isinstance(returned, int | float) and math.isfinite(returned):
        value = float(returned)
    record = {"num": int(hydra.job.num), "folder": os.path.relpath(folder, sweep_dir)}
    line = json.dumps({**record, "error": error, "value": value}) + "\n"
    # One write of one short line with O_APPEND: parallel jobs do not interleave.
    fd = os.open(sweep_dir / JOBS_FILE, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read_jobs(sweep_dir: Path) -> list[JobRecord]:
    """The sweep's job records in job order (a job run twice, e.g. requeued: its last record)."""
    path = sweep_dir / JOBS_FILE
    lines = path.read_text().splitlines() if path.is_file() else []
    jobs = {r["num"]: JobRecord(**r) for r in map(json.loads, filter(None, lines))}
    return [jobs[n] for n in sorted(jobs)]


@dataclass
class SweepEnd:
    """A sweep that ended in this process (``SweepRecord.on_multirun_end``)."""

    sweep_dir: Path
    jobs: list[JobRecord]
    goal: str  # minimize | maximize

    @property
    def failed(self) -> list[JobRecord]:
        return [j for j in self.jobs if j.error is not None]

    def summary(self) -> str:
        return summary(self.sweep_dir, self.jobs, self.goal)


#: The last sweep that ended in this process: seqnet-train prints its summary and exits with
#: status 1 when a job failed; ``seqnet.run(..., multirun=True)`` returns its jobs.
last_sweep: SweepEnd | None = None


def direction(config: DictConfig) -> str:
    """``minimize`` or ``maximize``: the Optuna sweeper's ``direction``, else minimize."""
    chosen = OmegaConf.select(config, "hydra.sweeper.direction", default="minimize")
    if OmegaConf.is_list(chosen):  # several objectives: seqnet returns one value
        chosen = chosen[0]
    return str(getattr(chosen, "name", chosen)).lower()


def summary(sweep_dir: Path, jobs: list[JobRecord], goal: str = "minimize") -> str:
    """The lines printed when a sweep ends: one per job, then the best and where to look."""
    failed = sum(j.error is not None for j in jobs)
    head = f"sweep {sweep_dir}: {len(jobs) - failed} of {len(jobs)} jobs finished"
    lines = [head + (f", {failed} failed" if failed else "")]
    width = max((len(f"#{j.num} {j.folder}") for j in jobs), default=0)
    for j in jobs:
        if j.error is not None:
            result = f"failed: {j.error}"
        else:
            result = f"{OBJECTIVE} {j.value:.5g}" if j.value is not None else "finished"
        lines.append(f"  {f'#{j.num} {j.folder}':<{width}}  {result}")
    scored = [j for j in jobs if j.value is not None]
    if scored:
        pick = min if goal == "minimize" else max
        best = pick(scored, key=lambda j: j.value)  # type: ignore[arg-type, return-value]
        lines.append(f"best by {OBJECTIVE} ({goal}): #{best.num} {best.folder}")
    lines.append(f"view it: tensorboard --logdir {sweep_dir}")
    return "\n".join(lines)
