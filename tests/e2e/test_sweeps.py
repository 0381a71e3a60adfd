"""Sweeps as users launch them (a subprocess each): the joblib launcher, Optuna with a persistent
study, and a failed trial that does not stop the search. The basic launcher's readable folders
and sweep.yaml: tests/e2e/test_seqnet_train.py; the sweep configs: tests/configs/."""

from __future__ import annotations

import json
import os
from pathlib import Path

import optuna
import pytest
import torch
from hydra.core.utils import JobReturn, JobStatus
from hydra.types import RunMode
from omegaconf import OmegaConf

from conftest import TINY
from helpers.processes import seqnet_env, seqnet_train, start_train
from helpers.runs import only_child
from seqnet.sweep_jobs import FailedJob, read_jobs
from seqnet.sweeps import SweepRecord


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
    first_sweep = seqnet_train(tmp_path, *search, "paths.output_dir=out")
    assert first_sweep.returncode == 1  # a trial failed: the summary says so, then status 1
    db = tmp_path / "out" / "optuna" / "seqnet.db"  # the default storage
    first = trials(db)
    seqnet_train(tmp_path, *search, "paths.output_dir=out")  # the same command continues it
    both = trials(db)
    # The failed trial's one line, once (not again as Optuna's "Failed experiment" warning).
    diverged = "loss or gradient was NaN/inf for 2 steps in a row"
    (line,) = [x for x in first_sweep.stderr.splitlines() if diverged in x]
    head, job = "seqnet-train: error: ", " [job #0: 0_optim.lr=1e+30]"
    assert line.startswith(head + diverged) and line.endswith(job)
    assert "Failed experiment" not in first_sweep.stdout + first_sweep.stderr
    sweep = sorted((tmp_path / "out" / "multirun").iterdir())[0].relative_to(tmp_path)
    summary = first_sweep.stdout.rstrip().splitlines()[-6:]
    assert summary[:2] == [
        f"sweep {sweep}: 2 of 3 jobs finished, 1 failed",
        f"  #0 0_optim.lr=1e+30  failed: {line[len(head) : -len(job)]}",
    ]
    assert summary[-2:] == [
        "best by val/loss (minimize): #1 1_optim.lr=0.001",  # the first of two equal values
        f"view it: tensorboard --logdir {sweep}",
    ]

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
        lr = "1e+30" if state == "FAIL" else "0.001"
        run_dir = sweeps[number // 3] / f"{number}_optim.lr={lr}"  # trial number, what differs
        if state == "FAIL":
            assert value is None and not (run_dir / "metrics.json").exists()
        else:
            assert value == metrics(run_dir)["val/loss"]
    best = OmegaConf.load(sweeps[1] / "optimization_results.yaml")
    assert best.best_value == min(t[3] for t in both if t[3] is not None)
    assert sorted(p.name for p in sweeps[1].iterdir()) == [
        ".seqnet-sweep.lock",
        "3_optim.lr=1e+30",
        "4_optim.lr=0.001",
        "5_optim.lr=0.001",
        "jobs.jsonl",
        "optimization_results.yaml",
        "sweep.yaml",
    ]


def test_a_failed_job_counts_against_optunas_max_failure_rate(tmp_path: Path) -> None:
    """A job that printed its error returns a FailedJob (the sweep goes on); with a
    max_failure_rate below 1 it is marked failed, so that Optuna's limit still stops a search."""
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    for limit, status in ((1.0, JobStatus.COMPLETED), (0.5, JobStatus.FAILED)):
        config = OmegaConf.create(
            {"hydra": {"mode": RunMode.MULTIRUN, "sweeper": {"max_failure_rate": limit},
                       "sweep": {"dir": str(sweep)}, "job": {"num": 0},
                       "runtime": {"output_dir": str(sweep / "0_x")}}}
        )  # fmt: skip
        job = JobReturn(status=JobStatus.COMPLETED, _return_value=FailedJob("bad value"))
        SweepRecord().on_job_end(config, job)
        assert job.status == status
    assert [(j.num, j.folder, j.error) for j in read_jobs(sweep)] == [(0, "0_x", "bad value")]


@pytest.mark.slow
def test_two_sweeps_creating_and_continuing_one_study_at_once(tmp_path: Path) -> None:
    """Two Optuna sweeps started together on one new study: both finish, each in a folder of
    its own with its own optimization_results.yaml, and every trial's folder is named by its
    Optuna trial number (the numbers run through both sweeps, each once)."""
    search = [
        "hparams_search=optuna",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.study_name=shared",
        "optim.lr=choice(0.001,0.002,0.003,0.004)",
        "model.hidden_size=16",
        "trainer.clip_grad_norm=1.0",
        *TINY,
        "trainer.max_steps=3",
        "grad_log.every_n_steps=0",
        "paths.output_dir=out",
    ]
    sweeps = [start_train(tmp_path, *search) for _ in range(2)]
    for sweep in sweeps:
        _, err = sweep.communicate(timeout=600)
        assert sweep.returncode == 0, err[-3000:]

    study = optuna.load_study(
        study_name="shared", storage=f"sqlite:///{tmp_path}/out/optuna/shared.db"
    )
    assert sorted(t.number for t in study.trials) == [0, 1, 2, 3]
    assert {t.state.name for t in study.trials} == {"COMPLETE"}
    folders = sorted((tmp_path / "out" / "multirun").iterdir())
    assert len(folders) == 2
    numbers = []
    for folder in folders:
        assert (folder / "optimization_results.yaml").is_file()
        for run_dir in (p for p in folder.iterdir() if p.is_dir()):
            number = int(run_dir.name.split("_")[0])
            numbers.append(number)
            lr = study.trials[number].params["optim.lr"]
            config = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["config"]
            assert config["optim"]["lr"] == lr
            assert metrics(run_dir)["val/loss"] == study.trials[number].value
    assert sorted(numbers) == [0, 1, 2, 3]
