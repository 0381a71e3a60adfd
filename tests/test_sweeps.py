"""Sweeps as users launch them (a subprocess each): the joblib launcher, Optuna with a persistent
study, and a failed trial that does not stop the search. The basic launcher's readable folders
and sweep.yaml: tests/test_cli.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import optuna
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from conftest import TINY
from seqnet.config import CONFIG_DIR
from subprocesses import only_child, run_train, seqnet_env, start_train


def metrics(run_dir: Path) -> dict:
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.mark.slow
def test_joblib_sweep_runs_jobs_in_parallel_processes_sharing_the_cores(tmp_path: Path) -> None:
    args = ["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "seed=1,2", *TINY]
    env = seqnet_env()
    env.pop("OMP_NUM_THREADS")  # the thread count must come from seqnet, not from here
    launcher = start_train(tmp_path, *args, "paths.output_dir=out", env=env)
    _, err = launcher.communicate(timeout=300)
    assert launcher.returncode == 0, err[-3000:]

    sweep = only_child(tmp_path / "out" / "multirun")
    threads = max(1, len(os.sched_getaffinity(0)) // 2)  # cores // n_jobs
    pids = set()
    for seed in (1, 2):
        run_dir = sweep / f"seed={seed}"
        (events,) = (run_dir / "tb").iterdir()  # events.out.tfevents.<time>.<host>.<pid>.<n>
        pids.add(int(events.name.split(".")[-2]))
        config = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["config"]
        assert (config["seed"], config["trainer"]["threads"]) == (seed, threads)
        assert f"{threads} CPU thread(s) per process" in (run_dir / "train.log").read_text()
    assert len(pids) == 2 and launcher.pid not in pids  # two worker processes
    assert metrics(sweep / "seed=1")["val/loss"] != metrics(sweep / "seed=2")["val/loss"]


def trials(db: Path) -> list[tuple[int, str, float, float | None]]:
    """(number, state, optim.lr, value) of every trial of the study stored in ``db``."""
    study = optuna.load_study(study_name="seqnet", storage=f"sqlite:///{db}")
    return [(t.number, t.state.name, t.params["optim.lr"], t.value) for t in study.trials]


@pytest.mark.slow
def test_optuna_study_continues_and_a_diverging_trial_fails(tmp_path: Path) -> None:
    # lr=1e30 makes the loss inf after one update: training stops on non-finite steps. The
    # sampler's seed makes the first of three trials draw it (then two with lr=1e-3).
    search = [
        "hparams_search=optuna",
        "hydra.sweeper.n_trials=3",
        "hydra.sweeper.sampler.seed=8",
        "optim.lr=choice(0.001,1e30)",
        "trainer.clip_grad_norm=1.0",  # fixed: only optim.lr is searched
        "trainer.max_nonfinite_steps=2",
        *TINY,
        "trainer.max_steps=3",  # short trials: diverging stops at step 3 all the same
        "grad_log.every_n_steps=0",
    ]
    run_train(tmp_path, *search, "paths.output_dir=out")
    db = tmp_path / "out" / "optuna" / "seqnet.db"  # the default storage
    first = trials(db)
    run_train(tmp_path, *search, "paths.output_dir=out")  # the same command continues the study
    both = trials(db)

    assert both[:3] == first
    assert [t[0] for t in both] == list(range(6))
    assert [(state, lr) for _, state, lr, _ in both] == [
        ("FAIL", 1e30),
        ("COMPLETE", 0.001),
        ("COMPLETE", 0.001),
    ] * 2
    sweeps = sorted((tmp_path / "out" / "multirun").iterdir())
    assert len(sweeps) == 2
    for number, state, _, value in both:
        sweep, job = sweeps[number // 3], number % 3
        lr = "1e+30" if state == "FAIL" else "0.001"
        run_dir = sweep / f"{job}_optim.lr={lr}"  # job number, then what differs
        if state == "FAIL":
            assert value is None and not (run_dir / "metrics.json").exists()
        else:
            assert value == metrics(run_dir)["val/loss"]
    best = OmegaConf.load(sweeps[1] / "optimization_results.yaml")
    assert best.best_value == min(t[3] for t in both if t[3] is not None)
    assert sorted(p.name for p in sweeps[1].iterdir()) == [
        "0_optim.lr=1e+30",
        "1_optim.lr=0.001",
        "2_optim.lr=0.001",
        "optimization_results.yaml",
        "sweep.yaml",
    ]


def compose_with_hydra(overrides: list[str]) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="train", overrides=overrides, return_hydra_config=True)


def test_slurm_launcher_takes_its_resources_as_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    resources = {
        "partition": "gpu",
        "timeout_min": 600,
        "cpus_per_task": 8,
        "gpus_per_node": 2,
        "mem_gb": 64,
        "array_parallelism": 10,
    }
    cfg = compose_with_hydra(
        ["hydra/launcher=slurm", *(f"hydra.launcher.{k}={v}" for k, v in resources.items())]
    )
    launcher = cfg.hydra.launcher
    assert launcher._target_ == (
        "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    )
    assert {k: launcher[k] for k in resources} == resources
    assert launcher.max_num_timeout == 10  # requeues after preemption or a time-out
    # SLURM jobs resume their own checkpoint: the job's environment sets ckpt_path=auto.
    assert cfg.hydra.job.env_set.SEQNET_CKPT_PATH == "auto"
    assert cfg.ckpt_path is None
    monkeypatch.setenv("SEQNET_CKPT_PATH", "auto")
    assert compose_with_hydra(["hydra/launcher=slurm"]).ckpt_path == "auto"


def test_optuna_search_space_and_storage() -> None:
    sweeper = compose_with_hydra(["hparams_search=optuna", "paths.output_dir=out"]).hydra.sweeper
    assert sweeper._target_ == "hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper"
    assert sweeper.storage == "sqlite:///out/optuna/seqnet.db"
    assert (sweeper.direction, sweeper.max_failure_rate) == ("minimize", 1.0)
    assert dict(sweeper.params) == {
        "optim.lr": "tag(log, interval(1e-4, 3e-2))",
        "model.hidden_size": "choice(32, 64, 128, 256)",
        "trainer.clip_grad_norm": "choice(0.25, 1.0, 4.0)",
    }
