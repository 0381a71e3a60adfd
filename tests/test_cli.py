"""``seqnet-train`` as users run it: a subprocess in an empty folder (outputs land there)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from conftest import SRC, console_script
from seqnet.models import MODEL_REGISTRY
from subprocesses import hparams_sessions, scalar_series

TIMESTAMP = r"\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}"
FAST = ["debug=fast", "trainer.progress_bar=false"]


def seqnet_train_script() -> str:
    return console_script("seqnet-train")


def run_cli(cwd: Path, *args: str, module: bool = True) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "seqnet.train"] if module else [seqnet_train_script()]
    env = dict(os.environ)
    env.pop("HYDRA_FULL_ERROR", None)  # the short error messages users see
    # One thread per run: beside other processes on a 2-core machine, OpenMP's spinning worker
    # threads made a debug=fast run take 27 s instead of 4 s (measured here).
    env["OMP_NUM_THREADS"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    return subprocess.run(
        [*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def only_child(folder: Path) -> Path:
    children = list(folder.iterdir())
    assert len(children) == 1, children
    return children[0]


def metrics_files(cwd: Path) -> list[Path]:
    return list((cwd / "outputs").rglob("metrics.json")) if (cwd / "outputs").exists() else []


@pytest.mark.slow
def test_single_run(tmp_path: Path) -> None:
    result = run_cli(tmp_path, *FAST)
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
        f"[seqnet][INFO] - finished at step 20: val/loss {metrics['val/loss']:.5g}, "
        f"val/mse {metrics['val/mse']:.5g}, val/baseline_ratio {metrics['val/baseline_ratio']:.5g}"
    )
    assert (run_dir / "checkpoints" / "last.pt").is_file()
    assert (run_dir / "gradients.npz").is_file()
    assert len(list((run_dir / "tb").glob("events.out.tfevents.*"))) == 1
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_override_names_the_run_folder(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "model=gru", *FAST)
    assert result.returncode == 0, result.stderr
    run_dir = only_child(tmp_path / "outputs" / "runs")
    assert re.fullmatch(TIMESTAMP + "_model=gru", run_dir.name)
    assert json.loads((run_dir / "metrics.json").read_text())["step"] == 20
    assert "name: gru" in (run_dir / ".hydra" / "config.yaml").read_text()


def test_unknown_model_lists_the_options(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "model=transformer", module=False)
    assert result.returncode != 0
    assert "Could not find 'model/transformer'" in result.stderr
    options = result.stderr.split("Available options in 'model':")[1].split("Config search")[0]
    assert options.split() == sorted(MODEL_REGISTRY)
    assert "Traceback" not in result.stderr
    assert metrics_files(tmp_path) == []


def test_wrong_type_stops_at_composition(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "trainer.max_steps=abc")
    assert result.returncode != 0
    assert "Error merging override trainer.max_steps=abc" in result.stderr
    assert "Value 'abc' of type 'str' could not be converted to Integer" in result.stderr
    assert "full_key: trainer.max_steps" in result.stderr
    assert "Traceback" not in result.stderr
    assert metrics_files(tmp_path) == []


def test_missing_checkpoint_is_a_one_line_error(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent.pt"
    result = run_cli(tmp_path, f"ckpt_path={missing}", *FAST)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"seqnet-train: error: checkpoint '{missing}' does not exist"
    ]
    assert "Traceback" not in result.stderr
    assert "Traceback" not in result.stdout
    assert metrics_files(tmp_path) == []
    # Hydra made the run folder (.hydra/, train.log); training wrote nothing into it.
    run_dir = only_child(tmp_path / "outputs" / "runs")
    assert not (run_dir / "tb").exists()
    assert not (run_dir / "checkpoints").exists()


def test_corrupt_checkpoint_is_a_one_line_error(tmp_path: Path) -> None:
    notes = tmp_path / "notes.pt"
    notes.write_bytes(b"hello")  # not a checkpoint at all
    result = run_cli(tmp_path, f"ckpt_path={notes}", *FAST)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(
        f"seqnet-train: error: checkpoint '{notes}' is corrupt or not a seqnet checkpoint"
    )
    assert "Traceback" not in result.stderr
    assert metrics_files(tmp_path) == []


@pytest.mark.slow
def test_multirun_makes_one_folder_per_job(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "-m", "model=rnn,gru", *FAST)
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
    assert sorted(p.name for p in sweep_dir.iterdir()) == [*jobs, "multirun.yaml", "sweep.yaml"]
    record = OmegaConf.load(sweep_dir / "sweep.yaml")
    assert (list(record.shared), list(record.swept)) == (FAST, ["model"])
    sessions = {}
    for job in jobs:
        assert len(list((sweep_dir / job / "tb").iterdir())) == 1  # one TensorBoard run
        (sessions[job],) = hparams_sessions(sweep_dir / job)  # HPARAMS written once
        metrics = json.loads((sweep_dir / job / "metrics.json").read_text())
        final = scalar_series(sweep_dir / job)["final/val_loss"]
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
    result = run_cli(tmp_path, "-m", "model.num_layers=1,2", "model.dropout=0.2", *FAST)
    assert result.returncode == 1
    assert "Error executing job with overrides: ['model.num_layers=1'" in result.stderr
    assert "model.num_layers=1 has none: set model.num_layers >= 2" in result.stderr
    sweep_dir = only_child(tmp_path / "outputs" / "multirun")
    assert [p.relative_to(sweep_dir).as_posix() for p in metrics_files(tmp_path)] == [
        "model.num_layers=2/metrics.json"  # only what differs between the jobs
    ]
