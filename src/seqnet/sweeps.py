"""Readable sweeps: each job's folder names only what differs between the jobs of a sweep.

``seqnet-train -m model=rnn,gru trainer.max_steps=500`` gives ``outputs/multirun/<timestamp>/
model=gru`` and ``.../model=rnn`` (TensorBoard names runs by folder); the shared
``trainer.max_steps=500`` is written once, to ``<timestamp>/sweep.yaml``.

How: Hydra names a job folder after the job's overrides (``hydra.job.override_dirname``) and
recomposes every job's config from the sweep's *Hydra* overrides plus the job's own. The
``SweepRecord`` callback runs once, in the process that launches the sweep, before any job: it
finds the overrides that are the same in every job (a plain ``key=value``, on the command line
or in ``hydra.sweeper.params``, as opposed to a sweep such as ``a,b``, ``range(...)``,
``choice(...)`` or ``interval(...)``) and adds them to the excluded keys through one more Hydra
override, which every launcher (basic, joblib, submitit) then applies to every job it composes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from seqnet import sweep_jobs
from seqnet.errors import ConfigError, Refusal
from seqnet.resolvers import chosen_run_dir

log = logging.getLogger(__name__)

SWEEP_RECORD = "sweep.yaml"
_EXCLUDE_KEYS = "hydra.job.config.override_dirname.exclude_keys"


def split_overrides(overrides: list[str]) -> tuple[list[str], list[str]]:
    """``(shared, swept)``: overrides equal in every job (as typed) and the keys that are swept."""
    parsed = OverridesParser.create().parse_overrides(overrides)
    shared = [o.input_line or "" for o in parsed if not o.is_sweep_override()]
    swept = [o.key_or_group for o in parsed if o.is_sweep_override()]
    return shared, list(dict.fromkeys(swept))


def sweep_overrides(config: DictConfig) -> list[str]:
    """Every override a sweep's jobs are made from: the sweeper's ``params`` (basic and Optuna
    sweepers), then the command line's."""
    params = OmegaConf.select(config, "hydra.sweeper.params") or {}
    from_params = [f"{key}={value}" for key, value in params.items()]
    return [*from_params, *OmegaConf.to_container(config.hydra.overrides.task)]


#: The lock a running sweep holds on its folder (``seqnet.training.folder_lock``).
SWEEP_LOCK = ".seqnet-sweep.lock"


def claim_sweep_dir(path: Path) -> Path:
    """``path``, or the first of ``path_2``, ``path_3``, ... that no running sweep holds: two
    sweeps started in the same second (two continuations of one Optuna study) get a folder
    each, with their own ``sweep.yaml`` and ``optimization_results.yaml``. The lock is this
    process's until the sweep ends (or the process does)."""
    from seqnet.training import folder_lock

    candidate, number = path, 1
    while True:
        candidate.mkdir(parents=True, exist_ok=True)
        if folder_lock.holds(candidate) or folder_lock.try_lock(candidate, SWEEP_LOCK):
            return candidate
        number += 1
        candidate = Path(f"{path}_{number}")


def _quoted(keys: list[str]) -> str:
    return "[" + ",".join("'" + k.replace("'", "\\'") + "'" for k in keys) + "]"


class SweepRecord(Callback):
    """Shared overrides out of the job folder names, and written once to ``sweep.yaml``; a record
    of each job as it ends (``seqnet.sweep_jobs``); at the end of the sweep, an aggregate
    TensorBoard run for each group of seeds and the sweep's summary.

    Also creates the folder of a SQLite Optuna storage (``sqlite:///outputs/optuna/x.db``):
    SQLite does not create folders, and the study is opened before any job runs.
    """

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_jobs.last_sweep = None
        chosen = chosen_run_dir(config)
        if chosen is not None:
            raise Refusal(
                ConfigError(
                    f"paths.run_dir={chosen} names one run's folder, and a sweep has one folder "
                    "per job: leave paths.run_dir out (paths.output_dir=DIR moves the sweep's "
                    "folder, outputs/multirun/<timestamp>)"
                )
            )
        sweep_jobs.quiet_optuna_failures()
        shared, swept = split_overrides(sweep_overrides(config))
        shared_keys = [o.split("=", 1)[0].lstrip("+~") for o in shared]
        excluded = list(config.hydra.job.config.override_dirname.exclude_keys)
        excluded += [k for k in shared_keys if k not in excluded]
        with read_write(config.hydra), open_dict(config.hydra):
            config.hydra.overrides.hydra.append(f"{_EXCLUDE_KEYS}={_quoted(excluded)}")

        sweep_dir = claim_sweep_dir(Path(str(config.hydra.sweep.dir)))
        if str(sweep_dir) != str(config.hydra.sweep.dir):  # the jobs' configs must agree
            with read_write(config.hydra), open_dict(config.hydra):
                config.hydra.sweep.dir = str(sweep_dir)
                config.hydra.overrides.hydra.append(
                    f"hydra.sweep.dir={_quoted([str(sweep_dir)])[1:-1]}"
                )
        record = OmegaConf.create({"shared": shared, "swept": swept})
        header = (
            "# Overrides every job of this sweep shares; each job's folder is named after\n"
            "# the swept keys only.\n"
        )
        (sweep_dir / SWEEP_RECORD).write_text(header + OmegaConf.to_yaml(record))
        make_sqlite_folder(OmegaConf.select(config, "hydra.sweeper.storage"))

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if OmegaConf.select(config, "hydra.mode") != RunMode.MULTIRUN:  # a single run
            return
        returned = job_return._return_value
        sweep_jobs.record_job(config.hydra, job_return.status == JobStatus.COMPLETED, returned)
        limit = OmegaConf.select(config, "hydra.sweeper.max_failure_rate", default=1.0)
        if isinstance(returned, sweep_jobs.FailedJob) and limit < 1.0:
            # The Optuna sweeper stops at its max_failure_rate only on jobs marked failed.
            job_return.status = JobStatus.FAILED
            job_return._return_value = sweep_jobs.JobFailed(returned.error)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        """Groups of runs that differ only in their seed get an aggregate TensorBoard run each
        (``seqnet.tblog.aggregate``: median and spread, CUSTOM SCALARS margin charts); the jobs'
        records make the summary (``sweep_jobs.last_sweep``)."""
        from seqnet.tblog.aggregate import aggregate_sweep
        from seqnet.training import folder_lock

        sweep_dir = Path(str(config.hydra.sweep.dir))
        aggregate_sweep(sweep_dir)
        jobs = sweep_jobs.read_jobs(sweep_dir)
        sweep_jobs.last_sweep = sweep_jobs.SweepEnd(sweep_dir, jobs, sweep_jobs.direction(config))
        folder_lock.release(sweep_dir)


def make_sqlite_folder(storage: Any) -> None:
    """Create the folder of a ``sqlite:///path/to/study.db`` storage URL (a no-op otherwise)."""
    if isinstance(storage, str) and storage.startswith("sqlite:///"):
        path = storage.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
