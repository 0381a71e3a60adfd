"""The file tasks through train(): each resumes bit for bit; every checkpoint keeps the content
hash of the data files (and the task's saved state); a resume on a changed file is refused
before any work, or goes on with a warning under data.allow_changed_file=true."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf
from test_registered_runs import assert_run_reports_its_model

from conftest import TINY_RUN, compose_config
from helpers.data_files import FILE_TASKS, overrides
from helpers.runs import assert_same_run, last_ckpt, scalars
from seqnet import forecast
from seqnet.data import TASK_REGISTRY, build_task
from seqnet.data.files import file_digest
from seqnet.errors import CheckpointError
from seqnet.models import build_model
from seqnet.training.loop import train

pytestmark = pytest.mark.usefixtures("one_thread")
TINY_DATA = {"batch_size": 8, "seq_len": 10}


def config(task: str, keys: dict, run_dir: Path, *extra: str):
    fields = {f.name for f in dataclasses.fields(TASK_REGISTRY[task].config)}
    data = [f"data.{k}={v}" for k, v in TINY_DATA.items() if k in fields]
    return compose_config([f"data={task}", *data, *overrides(keys), *TINY_RUN, "model=lstm",
                           *extra, f"paths.run_dir={run_dir}"])  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("task", sorted(FILE_TASKS))
def test_a_file_task_resumes_bit_for_bit(task: str, tmp_path: Path, data_files) -> None:
    keys = data_files[task]
    full_cfg = config(task, keys, tmp_path / "full")
    full = train(full_cfg)
    assert_run_reports_its_model(full_cfg, full, tmp_path / "full")  # as every built-in task's
    train(config(task, keys, tmp_path / "half", "trainer.max_steps=3"))
    half = tmp_path / "half" / "checkpoints" / "last.pt"
    resumed = train(config(task, keys, tmp_path / "resumed", f"ckpt_path={half}"))
    assert resumed == full
    assert_same_run(tmp_path / "resumed", tmp_path / "full")
    assert (
        scalars(tmp_path / "resumed")["train/loss"] == scalars(tmp_path / "full")["train/loss"][3:]
    )
    saved = last_ckpt(tmp_path / "full")
    root = Path(saved["data_files"]["root"])
    assert saved["data_files"]["files"] == {
        name: file_digest(root / name) for name in saved["data_files"]["files"]
    }
    assert len(saved["data_files"]["files"]) == (4 if task == "idx" else 1)
    expected_state = {"text": {"vocabulary"}, "timeseries": {"columns", "target", "window",
                      "input_mean", "input_std", "target_mean", "target_std"}}  # fmt: skip
    assert set(saved["task_state"]) == expected_state.get(task, set())
    if task == "timeseries":
        assert_forecasts_from_raw_windows(tmp_path / "full", keys)
    else:
        with pytest.raises(CheckpointError) as e:
            forecast(tmp_path / "full" / "checkpoints" / "last.pt", np.zeros((1, 8, 3)))
        assert str(e.value) == (
            f"checkpoint {str(tmp_path / 'full' / 'checkpoints' / 'last.pt')!r} was trained on "
            f"data={task}; seqnet.forecast reads the checkpoints of data=timeseries runs"
        )


def assert_forecasts_from_raw_windows(run_dir: Path, keys: dict) -> None:
    """seqnet.forecast on raw windows cut from the CSV with pandas (no task, no statistics given)
    equals the trained model's outputs on the task's validation windows, in original units."""
    checkpoint = run_dir / "checkpoints" / "last.pt"
    table = pd.read_csv(keys["path"])
    begin, window = 168, keys["window"]  # the validation part: rows 168.. of 240 (0.7 of them)
    raw = np.stack([table[["temp", "load", "wind"]].to_numpy()[s : s + window]
                    for s in range(begin, begin + 5)])  # fmt: skip
    cfg = OmegaConf.create(last_ckpt(run_dir)["config"])
    task = build_task(cfg.data)
    model = build_model(cfg.model, task.spec)
    model.load_state_dict(torch.load(checkpoint, weights_only=True)["model"])
    with torch.no_grad():
        expected = task.original(model.eval()(task.val_set().x[0:5])[0]).numpy()
    np.testing.assert_allclose(forecast(checkpoint, raw), expected, rtol=1e-5)
    np.testing.assert_allclose(forecast(checkpoint, raw[0]), expected[:1], rtol=1e-5)
    with pytest.raises(ValueError) as e:
        forecast(checkpoint, raw[:, :, :2])
    assert str(e.value) == (
        "windows must be (n, steps, 3): the columns ['temp', 'load', 'wind'] in that order, one "
        "row per step; got shape (5, 8, 2)"
    )


def test_resuming_on_a_changed_file(tmp_path: Path, data_files, caplog) -> None:
    csv = tmp_path / "series.csv"
    shutil.copy(data_files["timeseries"]["path"], csv)
    keys = {**data_files["timeseries"], "path": str(csv)}
    train(config("timeseries", keys, tmp_path / "first", "trainer.max_steps=3"))
    ckpt = tmp_path / "first" / "checkpoints" / "last.pt"
    before = file_digest(csv)
    lines = csv.read_text().splitlines()
    lines[10] = lines[10].rsplit(",", 1)[0] + ",9.5"  # one value of one row
    csv.write_text("\n".join(lines) + "\n")
    after = file_digest(csv)
    with pytest.raises(CheckpointError) as e:
        train(config("timeseries", keys, tmp_path / "refused", f"ckpt_path={ckpt}"))
    assert str(e.value) == (
        f"the data changed since checkpoint {ckpt} was written: series.csv (sha256 "
        f"{before[:12]} -> {after[:12]}) in {tmp_path}; resume with the data it was trained on, "
        "or set data.allow_changed_file=true to go on training on the changed data"
    )
    assert not (tmp_path / "refused").exists()  # nothing written
    with caplog.at_level(logging.WARNING, logger="seqnet.training"):
        metrics = train(config("timeseries", keys, tmp_path / "allowed", f"ckpt_path={ckpt}",
                               "data.allow_changed_file=true"))  # fmt: skip
    assert metrics["step"] == 6
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert (
        f"data.allow_changed_file=true: resuming from {ckpt} on data that changed since it was "
        f"written (series.csv (sha256 {before[:12]} -> {after[:12]}) in {tmp_path}): the run "
        "trains the checkpoint's weights on other data than they were trained on, so it is not "
        "the run an uninterrupted one would be"
    ) in warnings
    # The standardising statistics changed with the file, so the probe batch did: the gradient
    # history starts fresh, and the warning names the file (not data.allow_changed_file).
    previous = str(tmp_path / "first" / "gradients.npz")
    assert (
        f"gradient history starts fresh at step 3: {previous!r} was measured on another probe "
        f"batch (changed: data file series.csv (sha256 {before[:12]} -> {after[:12]})); this "
        "run's gradients.npz holds only the profiles it measures"
    ) in warnings
    assert last_ckpt(tmp_path / "allowed")["data_files"]["files"] == {"series.csv": after}
