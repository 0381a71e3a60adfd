"""``seqnet-train`` as users run it: a subprocess in an empty folder (outputs land there). A
single run and its folder, a sweep with one folder per job and its summary, ``--help``, and
errors: bad overrides stop before any work, a bad checkpoint is one line printed once, a failing
job prints the same line, naming the job, and does not stop its sweep."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

import seqnet.train
from helpers.processes import run_script, seqnet_train
from helpers.runs import hparams_sessions, only_child, scalars
from seqnet.data import TASK_REGISTRY
from seqnet.models import MODEL_REGISTRY
from seqnet.sweep_jobs import read_jobs

TIMESTAMP = r"\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}"
FAST = ["debug=fast", "trainer.progress_bar=false"]


def metrics_files(cwd: Path) -> list[Path]:
    return list((cwd / "outputs").rglob("metrics.json")) if (cwd / "outputs").exists() else []


@pytest.mark.slow
def test_single_run(tmp_path: Path) -> None:
    result = seqnet_train(tmp_path, *FAST)
    assert result.returncode == 0, result.stderr
    run_dir = only_child(tmp_path / "outputs" / "runs")
    # debug=fast changes what is trained; trainer.progress_bar is left out of names.
    assert re.fullmatch(TIMESTAMP + "_debug=fast", run_dir.name)
    assert f"run directory: {run_dir}" in result.stdout
    assert "tensorboard --logdir outputs" in result.stdout

    assert (run_dir / ".hydra" / "config.yaml").is_file()
    assert (run_dir / ".hydra" / "overrides.yaml").read_text().split() == [
        "-",
        "debug=fast",
        "-",
        "trainer.progress_bar=false",
    ]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["step"] == 20
    # The summary prints every validation metric (the adding problem has no test set).
    assert (
        f"val/loss {metrics['val/loss']:.5g} after 20 steps\n"
        f"val/mse {metrics['val/mse']:.5g}\nval/baseline_ratio {metrics['val/baseline_ratio']:.5g}"
        "\nrun directory:"
    ) in result.stdout
    log = (run_dir / "train.log").read_text()
    validations = re.findall(
        r"validation at step (\d+): val/loss \S+, val/mse \S+, val/baseline_ratio", log
    )
    assert validations == ["10", "20"]  # debug=fast validates every 10 steps
    last_line = log.splitlines()[-1]
    assert last_line.endswith(
        f"finished at step 20: val/loss {metrics['val/loss']:.5g}, "
        f"val/mse {metrics['val/mse']:.5g}, val/baseline_ratio {metrics['val/baseline_ratio']:.5g}"
    )
    assert (run_dir / "checkpoints" / "last.pt").is_file()
    assert (run_dir / "gradients.npz").is_file()
    assert len(list((run_dir / "tb").glob("events.out.tfevents.*"))) == 1
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_override_names_the_run_folder(tmp_path: Path) -> None:
    result = seqnet_train(tmp_path, "model=gru", *FAST)
    assert result.returncode == 0, result.stderr
    run_dir = only_child(tmp_path / "outputs" / "runs")
    assert re.fullmatch(TIMESTAMP + "_model=gru,debug=fast", run_dir.name)
    assert json.loads((run_dir / "metrics.json").read_text())["step"] == 20
    assert "name: gru" in (run_dir / ".hydra" / "config.yaml").read_text()


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ("model=transformer", ["transformer", *MODEL_REGISTRY]),  # and the models there are
        ("trainer.max_steps=abc", ["trainer.max_steps", "abc"]),
    ],
    ids=["unknown_model", "wrong_type"],
)
def test_a_bad_override_stops_before_any_work(tmp_path: Path, override: str, named: list[str]):
    """Through the console script (Hydra composes before the run exists): a non-zero exit with
    a short message that names the key, no traceback, and no outputs at all. (Every kind of bad
    override: tests/configs/test_composition_errors.py.)"""
    result = run_script("seqnet-train", override, *FAST, cwd=tmp_path)
    assert result.returncode != 0
    for name in named:
        assert name in result.stderr, name
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "outputs").exists()


def test_a_seqnet_error_is_one_line_before_any_work(tmp_path: Path) -> None:
    """An error of seqnet's own (here a missing checkpoint; every such message:
    tests/training/test_checks.py, test_checkpoint.py) is its one line on stderr, exit status 1,
    before training writes anything."""
    missing = tmp_path / "nonexistent.pt"
    result = seqnet_train(tmp_path, f"ckpt_path={missing}", *FAST)
    assert result.returncode == 1
    message = f"checkpoint '{missing}' does not exist"
    assert result.stderr.strip().splitlines() == [f"seqnet-train: error: {message}"]
    assert message not in result.stdout  # printed once: no [ERROR] log line on the console
    assert "Traceback" not in result.stdout
    assert metrics_files(tmp_path) == []
    # Hydra made the run folder (.hydra/, train.log); training wrote nothing into it.
    run_dir = only_child(tmp_path / "outputs" / "runs")
    log = (run_dir / "train.log").read_text().splitlines()
    (logged,) = [line for line in log if message in line]
    assert logged.endswith(f"[seqnet][ERROR] - {message}")  # train.log still records it
    assert not (run_dir / "tb").exists()
    assert not (run_dir / "checkpoints").exists()


@pytest.mark.slow
def test_multirun_makes_one_folder_per_job(tmp_path: Path) -> None:
    result = seqnet_train(tmp_path, "-m", "model=rnn,gru", *FAST)
    assert result.returncode == 0, result.stderr
    sweep_dir = only_child(tmp_path / "outputs" / "multirun")
    assert re.fullmatch(TIMESTAMP, sweep_dir.name)
    jobs = sorted(p.name for p in sweep_dir.iterdir() if p.is_dir())
    assert jobs == ["model=gru", "model=rnn"]
    losses = {}
    for job in jobs:
        metrics = json.loads((sweep_dir / job / "metrics.json").read_text())
        assert metrics["step"] == 20
        assert (sweep_dir / job / "tb").is_dir()
        assert f"run directory: {sweep_dir / job}" in result.stdout
        losses[job] = metrics["val/loss"]
    assert (sweep_dir / "multirun.yaml").is_file()
    assert not (tmp_path / "outputs" / "runs").exists()
    # One summary at the end, not a TensorBoard line per job.
    best = min(losses, key=losses.__getitem__)
    relative = sweep_dir.relative_to(tmp_path)
    assert result.stdout.rstrip().splitlines()[-5:] == [
        f"sweep {relative}: 2 of 2 jobs finished",
        f"  #0 model=rnn  val/loss {losses['model=rnn']:.5g}",
        f"  #1 model=gru  val/loss {losses['model=gru']:.5g}",
        f"best by val/loss (minimize): #{['model=rnn', 'model=gru'].index(best)} {best}",
        f"view it: tensorboard --logdir {relative}",
    ]
    assert result.stdout.count("tensorboard --logdir") == 1
    # Folders name only what differs; what every job shares is written once (seqnet.sweeps).
    assert sorted(p.name for p in sweep_dir.iterdir()) == [
        ".seqnet-sweep.lock",  # the lock the running sweep held
        "jobs.jsonl",  # a line per job, for the summary (seqnet.sweep_jobs)
        *jobs,
        "multirun.yaml",
        "sweep.yaml",
    ]
    record = OmegaConf.load(sweep_dir / "sweep.yaml")
    assert (list(record.shared), list(record.swept)) == (FAST, ["model"])
    sessions = {}
    for job in jobs:
        assert len(list((sweep_dir / job / "tb").iterdir())) == 1  # one TensorBoard run
        (sessions[job],) = hparams_sessions(sweep_dir / job)  # HPARAMS written once
        metrics = json.loads((sweep_dir / job / "metrics.json").read_text())
        final = scalars(sweep_dir / job)["final/val_loss"]
        assert final == [(20, pytest.approx(metrics["val/loss"], rel=1e-6))]
    # The same HPARAMS columns in every job; a key the GRU does not have reads n/a.
    assert sessions["model=rnn"].keys() == sessions["model=gru"].keys()
    assert (sessions["model=rnn"]["model/name"], sessions["model=gru"]["model/name"]) == (
        "rnn",
        "gru",
    )
    assert sessions["model=gru"]["model/nonlinearity"] == "n/a"


@pytest.mark.slow
def test_a_failing_job_prints_its_line_and_the_sweep_goes_on(tmp_path: Path) -> None:
    """A user error in one job of a sweep: the one line a single run prints, naming the job
    (once: Hydra's "Error executing job" and its traceback are gone); the other jobs run and
    the summary lists the failed one; exit status 1."""
    tiny = ["model.hidden_size=8", "trainer.max_steps=2", "grad_log.every_n_steps=0"]
    result = seqnet_train(tmp_path, "-m", "data.seq_len=1,12", "debug=fast", *FAST[1:], *tiny)
    assert result.returncode == 1
    message = "the adding problem needs data.seq_len >= 2 (one marker per half), got 1"
    line = f"seqnet-train: error: {message} [job #0: data.seq_len=1]"
    assert result.stderr.splitlines() == [line]
    assert message not in result.stdout.replace(f"failed: {message}", "")  # once, then summary
    sweep_dir = only_child(tmp_path / "outputs" / "multirun")
    assert [p.relative_to(sweep_dir).as_posix() for p in metrics_files(tmp_path)] == [
        "data.seq_len=12/metrics.json"  # only what differs between the jobs
    ]
    loss = json.loads((sweep_dir / "data.seq_len=12" / "metrics.json").read_text())["val/loss"]
    relative = sweep_dir.relative_to(tmp_path)
    assert result.stdout.rstrip().splitlines()[-5:] == [
        f"sweep {relative}: 1 of 2 jobs finished, 1 failed",
        f"  #0 data.seq_len=1   failed: {message}",
        f"  #1 data.seq_len=12  val/loss {loss:.5g}",
        "best by val/loss (minimize): #1 data.seq_len=12",
        f"view it: tensorboard --logdir {relative}",
    ]
    assert [(j.num, j.error) for j in read_jobs(sweep_dir)] == [(0, message), (1, None)]
    log = (sweep_dir / "data.seq_len=1" / "train.log").read_text()
    assert log.rstrip().endswith(f"[seqnet][ERROR] - {message} [job #0: data.seq_len=1]")


def test_help_shows_seqnets_own_help_first(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``seqnet-train --help model=gru``, run in this process (the Hydra main, as the console
    script calls it; a subprocess would import torch again)."""
    monkeypatch.setattr(sys, "argv", ["seqnet-train", "--help", "model=gru"])
    try:
        with pytest.raises(SystemExit) as exited:
            seqnet.train.run()
    finally:
        GlobalHydra.instance().clear()
    assert exited.value.code == 0
    result = capsys.readouterr()
    lines = result.out.splitlines()
    assert lines[0].startswith("seqnet-train: train a recurrent network")
    groups = lines[lines.index("== Config groups (group=option) ==") + 1 :][:6]
    assert groups == [
        f"data: {', '.join(sorted(TASK_REGISTRY))}",
        "debug: fast",
        "experiment: adding_long, char_lm, copy_memory, mackey_glass, mnist1d, mnist1d_bigru, "
        "seq_digits_pixels, vanishing, variants",
        "hparams_search: lr_grid, optuna",
        f"model: {', '.join(sorted(MODEL_REGISTRY))}",
        "optim: adam, rmsprop, sgd",
    ]
    assert "schema/" not in result.out and "is powered by Hydra" not in result.out
    keys = lines.index("== Most used keys (their values with these overrides) ==")
    assert lines[keys + 1].split() == [  # the values these overrides give (model=gru)
        "model.hidden_size=128", "data.seq_len=50", "data.batch_size=64", "seed=42"
    ]  # fmt: skip
    assert "  docs/configuration.md (every key and its default), docs/sweeps.md" in result.out
    # Hydra's own help below: the composed config, then its footer.
    hydra = lines.index("== Config (Hydra's help: the whole composed config; override anything, "
                        "foo.bar=value) ==")  # fmt: skip
    assert hydra > keys and lines[hydra + 1 : hydra + 3] == ["model:", "  name: gru"]
    assert result.out.rstrip().splitlines()[-2:] == [
        "Powered by Hydra (https://hydra.cc)",
        "Use --hydra-help to view Hydra specific help",
    ]
