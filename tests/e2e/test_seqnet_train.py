"""``seqnet-train`` as users run it: a subprocess in an empty folder (outputs land there). A
single run and its folder, a sweep with one folder per job, and errors: bad overrides stop
before any work, a bad checkpoint is one line, a failing job does not stop its sweep."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from helpers.processes import run_script, seqnet_train
from helpers.runs import hparams_sessions, only_child, scalars
from seqnet.models import MODEL_REGISTRY

TIMESTAMP = r"\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}"
FAST = ["debug=fast", "trainer.progress_bar=false"]


def metrics_files(cwd: Path) -> list[Path]:
    return list((cwd / "outputs").rglob("metrics.json")) if (cwd / "outputs").exists() else []


@pytest.mark.slow
def test_single_run(tmp_path: Path) -> None:
    result = seqnet_train(tmp_path, *FAST)
    assert result.returncode == 0, result.stderr
    run_dir = only_child(tmp_path / "outputs" / "runs")
    # The overrides used are all excluded from the folder name: just the timestamp.
    assert re.fullmatch(TIMESTAMP, run_dir.name)
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
    assert f"val/loss {metrics['val/loss']:.5g} after 20 steps" in result.stdout
    last_line = (run_dir / "train.log").read_text().splitlines()[-1]
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
    assert re.fullmatch(TIMESTAMP + "_model=gru", run_dir.name)
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
    assert result.stderr.strip().splitlines() == [
        f"seqnet-train: error: checkpoint '{missing}' does not exist"
    ]
    assert "Traceback" not in result.stdout
    assert metrics_files(tmp_path) == []
    # Hydra made the run folder (.hydra/, train.log); training wrote nothing into it.
    run_dir = only_child(tmp_path / "outputs" / "runs")
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
    for job in jobs:
        metrics = json.loads((sweep_dir / job / "metrics.json").read_text())
        assert metrics["step"] == 20
        assert (sweep_dir / job / "tb").is_dir()
        assert f"run directory: {sweep_dir / job}" in result.stdout
    assert (sweep_dir / "multirun.yaml").is_file()
    assert not (tmp_path / "outputs" / "runs").exists()
    # Folders name only what differs; what every job shares is written once (seqnet.sweeps).
    assert sorted(p.name for p in sweep_dir.iterdir()) == [
        ".seqnet-sweep.lock",  # the lock the running sweep held
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
def test_a_failing_job_does_not_stop_the_sweep(tmp_path: Path) -> None:
    """A user error in one job of a sweep fails that job; the others still run."""
    result = seqnet_train(tmp_path, "-m", "model.num_layers=1,2", "model.dropout=0.2", *FAST)
    assert result.returncode == 1
    # seqnet's message for the failed job (Hydra words the report around it).
    assert (
        "model.dropout=0.2 acts only between recurrent layers, and model.num_layers=1 has none: "
        "set model.num_layers >= 2 or model.dropout=0" in result.stderr
    )
    sweep_dir = only_child(tmp_path / "outputs" / "multirun")
    assert [p.relative_to(sweep_dir).as_posix() for p in metrics_files(tmp_path)] == [
        "model.num_layers=2/metrics.json"  # only what differs between the jobs
    ]
