"""``seqnet.run(overrides)``: one training run from Python (a notebook, a script), composed and
placed exactly as ``seqnet-train`` composes and places it.

    import seqnet
    result = seqnet.run(["model=gru", "data.seq_len=100"])
    result.metrics["val/loss"], result.run_dir
    steps, norms, meta = result.gradients()        # gradients.npz, as seqnet.load_gradients
    results = seqnet.run(["model=rnn,gru"], multirun=True)   # a sweep: one RunResult per job

The config comes from seqnet's configs, the installed plugins' config folders and, with
``config_dir=``, a folder of the user's own (as ``seqnet-train --config-dir``). Hydra itself runs
the job (``Hydra.run``, what ``@hydra.main`` calls), so the run folder is named by the same
``hydra.run.dir`` as on the command line and holds the same files, ``.hydra/`` and ``train.log``
included. The caller's logging set-up is left alone: seqnet's log goes to the run's
``train.log``. Errors are raised (``seqnet.errors.SeqnetError`` for bad values), not printed;
in a sweep, a job's error is its result's ``error`` and the other jobs go on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from hydra import compose, initialize_config_dir
from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.plugins.search_path_plugin import SearchPathPlugin
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from seqnet import sweep_jobs
from seqnet.config import CONFIG_DIR, CONFIG_NAME
from seqnet.errors import ConfigError, Refusal
from seqnet.gradients import GRADIENTS_FILE, load_gradients
from seqnet.plugins import load_plugins
from seqnet.resolvers import check_one_run_folder
from seqnet.training.loop import train
from seqnet.training.run_folder import RunFolderRefusal

# Hydra's own job_logging format (hydra/conf/hydra/job_logging/default.yaml), for train.log.
_LOG_FORMAT = "[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"


@dataclass
class RunResult:
    """What ``seqnet.run`` returns."""

    #: The run folder (absolute): ``outputs/runs/<timestamp>_<overrides>`` under the current
    #: directory by default, as for ``seqnet-train``.
    run_dir: Path
    #: The final metrics, as in the run's ``metrics.json`` (``val/loss``, ``step``, ...).
    metrics: dict[str, Any]
    #: The composed config, resolved, as plain containers (``config["model"]["name"]``).
    config: dict[str, Any]
    #: In a sweep (``multirun=True``): the error that stopped this job (its ``metrics`` are then
    #: empty), None when it finished. A single run raises its error instead.
    error: Exception | None = None

    def gradients(self) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, Any]]:
        """``(steps, norms, meta)`` from the run's ``gradients.npz`` (``load_gradients``)."""
        return load_gradients(self.run_dir / GRADIENTS_FILE)


def run(
    overrides: Sequence[str] = (),
    config_dir: str | Path | None = None,
    config_name: str = CONFIG_NAME,
    multirun: bool = False,
) -> RunResult | list[RunResult]:
    """Compose the ``train`` config with ``overrides`` (command-line syntax, one string each),
    train, and return the run folder, the final metrics and the config (a ``RunResult``).

    ``config_dir`` adds a folder of the user's config groups (``model/``, ``experiment/`` ...)
    after seqnet's own, as ``seqnet-train --config-dir`` does; ``config_name`` picks another
    primary config there (``--config-name``), for example one whose defaults extend ``train``.
    ``multirun=True`` runs a sweep as ``seqnet-train -m`` does (``model=rnn,gru``, or an
    experiment that sets ``hydra.mode: MULTIRUN``), its jobs one after another in this process,
    and returns a list of ``RunResult``, one per job in job order; a job that fails has its
    ``error`` set and the sweep goes on. Without it, a sweep is refused.
    """
    if isinstance(overrides, str):
        raise TypeError(f"overrides is a list of strings, e.g. seqnet.run([{overrides!r}])")
    overrides = list(overrides)
    load_plugins()
    outcomes: dict[int, dict[str, Any]] = {}

    def task(cfg: DictConfig) -> Any:
        hydra_cfg = HydraConfig.get()
        run_dir = Path(cfg.paths.run_dir)
        outcome = outcomes.setdefault(int(OmegaConf.select(hydra_cfg, "job.num") or 0), {})
        outcome["run_dir"] = run_dir
        outcome["config"] = OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
        with log_to_file(run_dir / f"{hydra_cfg.job.name}.log"):
            try:
                check_one_run_folder(cfg, hydra_cfg.runtime.output_dir)
                metrics = train(cfg)
                return metrics[sweep_jobs.OBJECTIVE] if multirun else metrics
            except Exception as e:  # raised below, after Hydra, which would also log it
                outcome["error"] = e
                return sweep_jobs.FailedJob(str(e)) if multirun else {}

    # job_name: hydra.job.name as under seqnet-train (its module's name), so train.log.
    with (
        own_global_hydra(),
        user_config_dir(config_dir),
        initialize_config_dir(config_dir=str(CONFIG_DIR), job_name="train", version_base="1.3"),
    ):
        if multirun:
            return _sweep(config_name, task, overrides, outcomes)
        parsed = OverridesParser.create().parse_overrides(overrides)
        sweep = [o.input_line for o in parsed if o.is_sweep_override()]
        if sweep or compose(config_name, overrides, return_hydra_config=True).hydra.mode == (
            RunMode.MULTIRUN
        ):
            what = " ".join(sweep) or f"{' '.join(overrides)} (hydra.mode=MULTIRUN)"
            raise ConfigError(
                f"seqnet.run trains one config, but {what} is a sweep: "
                "seqnet.run(overrides, multirun=True) runs it and returns one RunResult per job"
            )
        hydra_app = GlobalHydra.instance().hydra
        assert hydra_app is not None
        # What @hydra.main does for a single run: the run folder, .hydra/, then the task.
        try:
            job = hydra_app.run(config_name, task, overrides, with_log_configuration=False)
        except RunFolderRefusal as refusal:  # hydra.run.dir owned by another run: untouched
            raise refusal.error from None
    outcome = outcomes[0]
    if "error" in outcome:
        raise outcome["error"]
    return RunResult(run_dir=outcome["run_dir"], metrics=job.return_value, config=outcome["config"])


#: Hydra's logging left as the caller set it up (no console handler of Hydra's own).
_QUIET_LOGGING = ["hydra/job_logging=none", "hydra/hydra_logging=none"]


def _sweep(
    config_name: str, task: Any, overrides: list[str], outcomes: dict[int, dict[str, Any]]
) -> list[RunResult]:
    """``run(..., multirun=True)``: Hydra's multirun (what ``seqnet-train -m`` calls), with the
    jobs in this process, so that each job's outcome reaches this caller."""
    hydra_app = GlobalHydra.instance().hydra
    assert hydra_app is not None
    composed = hydra_app.compose_config(
        config_name, overrides, run_mode=RunMode.MULTIRUN, with_log_configuration=False
    )
    target = str(OmegaConf.select(composed, "hydra.launcher._target_"))
    if not target.endswith(".BasicLauncher"):
        raise ConfigError(
            f"seqnet.run(multirun=True) runs the jobs one after another in this process, but "
            f"hydra.launcher is {target}, whose jobs run in other processes: run that sweep with "
            "seqnet-train -m, or leave hydra/launcher out"
        )
    mode = [] if composed.hydra.mode == RunMode.MULTIRUN else ["hydra.mode=MULTIRUN"]  # as -m
    try:
        hydra_app.multirun(config_name, task, [*overrides, *_QUIET_LOGGING, *mode], False)
    except Refusal as refusal:  # refused before any job (seqnet.sweeps.SweepRecord)
        raise refusal.error from None
    ended = sweep_jobs.last_sweep
    assert ended is not None
    results = []
    for job in ended.jobs:
        outcome = outcomes[job.num]
        metrics_file = Path(outcome["run_dir"]) / "metrics.json"
        metrics = json.loads(metrics_file.read_text()) if "error" not in outcome else {}
        results.append(
            RunResult(outcome["run_dir"], metrics, outcome["config"], outcome.get("error"))
        )
    return results


#: The folder of the ``seqnet.run(config_dir=...)`` call being composed, as a search path entry.
_user_config_dir: str | None = None


class UserConfigDir(SearchPathPlugin):
    """Hydra search path plugin: ``config_dir`` of ``seqnet.run``, where ``--config-dir`` puts
    its folder (after seqnet's configs and the plugins', before the structured schemas), so a
    primary config there (``config_name``) is found as on the command line."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        if _user_config_dir is not None:
            search_path.append(provider="command-line", path=_user_config_dir)


@contextmanager
def user_config_dir(config_dir: str | Path | None) -> Iterator[None]:
    """``config_dir`` on the search path of the Hydra instances created inside the block."""
    global _user_config_dir
    if config_dir is None:
        yield
        return
    folder = Path(config_dir).expanduser().resolve()
    if not folder.is_dir():
        raise ConfigError(f"config_dir={config_dir} is not a folder (resolved: {folder})")
    Plugins.instance().register(UserConfigDir)
    _user_config_dir = f"file://{folder}"
    try:
        yield
    finally:
        _user_config_dir = None


@contextmanager
def own_global_hydra() -> Iterator[None]:
    """Run with a fresh Hydra instance and put back whatever the caller had initialised (in a
    notebook that composed configs itself, or inside another Hydra app)."""
    saved = GlobalHydra.instance().hydra
    GlobalHydra.instance().clear()
    try:
        yield
    finally:
        GlobalHydra.instance().clear()
        if saved is not None:
            GlobalHydra.instance().initialize(saved)


@contextmanager
def log_to_file(path: Path) -> Iterator[None]:
    """seqnet's INFO log into ``path`` for the duration, without touching the root logger."""
    logger = logging.getLogger("seqnet")
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter(_LOG_FORMAT))
    level = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        handler.close()
