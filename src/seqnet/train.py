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
from contextlib import suppress
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from seqnet.config import CONFIG_DIR, CONFIG_NAME
from seqnet.errors import OutputError, SeqnetError, TrainingDiverged
from seqnet.plugins import PluginError, load_plugins
from seqnet.training.distributed import agree_on_run_time, env_rank, leave_process_group
from seqnet.training.loop import train
from seqnet.training.preemption import Preempted
from seqnet.training.run_folder import ClaimRunFolder

log = logging.getLogger("seqnet")


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name=CONFIG_NAME)
def run(cfg: DictConfig) -> float:
    in_sweep = HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
    if cfg.trainer.threads is None:
        cfg.trainer.threads = threads_per_job()
    try:
        load_plugins()  # again in case a launcher runs this job in a fresh process
        metrics = train(cfg)
        if in_sweep:
            check_metric(metrics)
    except Preempted as e:
        log.warning("%s", e)
        print(f"seqnet-train: {e}", file=sys.stderr)
        e.hand_over()  # submitit requeues the job; otherwise exit with 128 + the signal
    except SeqnetError as e:
        if in_sweep:
            raise  # the sweeper marks this job failed (an Optuna trial: FAIL) and goes on
        with suppress(OutputError):  # train.log may be what cannot be written
            log.error("%s", e)
        print(f"seqnet-train: error: {e}", file=sys.stderr)
        sys.exit(1)
    run_dir = Path(cfg.paths.run_dir)
    if env_rank() > 0:
        return metrics["val/loss"]  # under torchrun, rank 0 reports
    results = ", ".join(f"{k} {v:.5g}" for k, v in metrics.items() if "/" in k)
    log.info("finished at step %d: %s", metrics["step"], results)  # train.log keeps the result
    tests = "".join(f"\n{k} {v:.5g}" for k, v in metrics.items() if k.startswith("test/"))
    print(
        f"\nval/loss {metrics['val/loss']:.5g} after {metrics['step']} steps{tests}"
        f"\nrun directory: {run_dir}"
        f"\nview it:       tensorboard --logdir {cfg.paths.output_dir}"
    )
    return metrics["val/loss"]


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
    finally:
        leave_process_group()


if __name__ == "__main__":
    main()
