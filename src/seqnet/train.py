"""``seqnet-train``: the Hydra entry point. Compose the config, train, return the validation loss
(the value a sweeper optimises).

    seqnet-train                                  # LSTM on the adding problem, CPU, < 1 minute
    seqnet-train model=gru data.seq_len=100       # any key can be overridden
    seqnet-train -m model=rnn,lstm,gru            # a sweep: outputs/multirun/<timestamp>/...
    torchrun --nproc_per_node=2 -m seqnet.train   # data-parallel (seqnet.training.distributed)
    seqnet-train --config-dir conf experiment=my_study model=my_cell   # a user's own configs

The configs come from the installed package (``seqnet.config.CONFIG_DIR``); plugins
(``seqnet.plugins``) are imported before composing.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from seqnet import sweep_jobs
from seqnet.config import CONFIG_DIR, CONFIG_NAME
from seqnet.errors import Refusal, SeqnetError, TrainingDiverged
from seqnet.plugins import PluginError, load_plugins
from seqnet.reporting import report_error, report_warning
from seqnet.resolvers import check_one_run_folder
from seqnet.sweep_jobs import FailedJob
from seqnet.training.distributed import agree_on_run_time, env_rank, leave_process_group
from seqnet.training.loop import train
from seqnet.training.preemption import Preempted
from seqnet.training.run_folder import ClaimRunFolder

log = logging.getLogger("seqnet")


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name=CONFIG_NAME)
def run(cfg: DictConfig) -> float | FailedJob:
    in_sweep = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    if cfg.trainer.threads is None:
        cfg.trainer.threads = threads_per_job()
    try:
        if HydraConfig.initialized():
            check_one_run_folder(cfg, HydraConfig.get().runtime.output_dir)
        load_plugins()  # again in case a launcher runs this job in a fresh process
        metrics = train(cfg)
        if in_sweep:
            check_metric(metrics)
    except Preempted as e:
        report_warning(str(e))
        e.hand_over()  # submitit requeues the job; otherwise exit with 128 + the signal
    except SeqnetError as e:
        if not in_sweep:
            report_error(e)
            sys.exit(1)
        # The job's one line; the sweep goes on (an Optuna trial: FAIL) and its summary lists
        # the job (seqnet.sweep_jobs).
        report_error(e, sweep_jobs.job_label(HydraConfig.get()))
        return FailedJob(str(e))
    run_dir = Path(cfg.paths.run_dir)
    if env_rank() > 0:
        return metrics["val/loss"]  # under torchrun, rank 0 reports
    results = ", ".join(f"{k} {v:.5g}" for k, v in metrics.items() if "/" in k)
    log.info("finished at step %d: %s", metrics["step"], results)  # train.log keeps the result
    shown = [k for k in metrics if k.startswith(("val/", "test/")) and k != "val/loss"]
    others = "".join(f"\n{k} {metrics[k]:.5g}" for k in shown)  # every val and test metric
    stopped = f"\nstopped early: {metrics['stop_reason']}" if metrics.get("stopped_early") else ""
    view = "" if in_sweep else f"\nview it:       tensorboard --logdir {cfg.paths.output_dir}"
    print(
        f"\nval/loss {metrics['val/loss']:.5g} after {metrics['step']} steps{others}{stopped}"
        f"\nrun directory: {run_dir}{view}"
    )
    return metrics[sweep_jobs.OBJECTIVE]


def check_metric(metrics: dict) -> None:
    """A sweeper must never be handed NaN or inf (it crashed Optuna sweeps, hydra issue 2237):
    such a run is an error, and its trial is recorded as failed."""
    value = metrics["val/loss"]
    if not math.isfinite(value):
        raise TrainingDiverged(
            f"final val/loss is {value}; the model diverged. Try a lower optim.lr or "
            "trainer.clip_grad_norm=1.0"
        )


def threads_per_job() -> int | None:
    """CPU threads for a job of a joblib sweep: the cores shared by the parallel jobs
    (threads per job x jobs <= cores); None (PyTorch's default) for any other launcher."""
    if not HydraConfig.initialized():
        return None
    n_jobs = OmegaConf.select(HydraConfig.get(), "launcher.n_jobs")
    if not isinstance(n_jobs, int) or n_jobs == 0:
        return None
    cores = len(os.sched_getaffinity(0))
    jobs = n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs)  # joblib: -1 = all cores
    return max(1, cores // jobs)


def main() -> None:
    if not (CONFIG_DIR / f"{CONFIG_NAME}.yaml").is_file():
        sys.exit(
            f"seqnet-train: error: no {CONFIG_NAME}.yaml in {CONFIG_DIR}: this seqnet install is "
            "incomplete; reinstall it (pip install --force-reinstall seqnet, or pip install -e . "
            "in a clone)"
        )
    try:
        load_plugins()
    except PluginError as e:
        sys.exit(f"seqnet-train: error: {e}")
    ClaimRunFolder.command = "seqnet-train"  # a refused run folder: one line, exit status 1
    agree_on_run_time()  # under torchrun: one run directory for all ranks
    if env_rank() > 0:
        # Rank 0 writes the run's .hydra/ and train.log; the others only print.
        sys.argv += ["hydra.output_subdir=null", "hydra/job_logging=stdout"]
    try:
        run()
    except Refusal as refusal:  # a sweep refused before any job (seqnet.sweeps.SweepRecord)
        report_error(refusal.error)
        sys.exit(1)
    finally:
        leave_process_group()
    ended = sweep_jobs.last_sweep
    if ended is not None and env_rank() == 0:
        print(f"\n{ended.summary()}")
        if ended.failed:
            sys.exit(1)


if __name__ == "__main__":
    main()
