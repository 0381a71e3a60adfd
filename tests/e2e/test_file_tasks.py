"""The file tasks from the command line, as a user runs them on their own files (written by the
tests): one ``seqnet-train -m --config-dir conf experiment=<one per task>`` trains each file
task (on rnn, lstm and gru between them: every model on every file task is
tests/models/test_every_model_on_every_task.py's), with a gradient profile of every quantity
over every timestep that the saved model reproduces; bad data stops with one line before any
training and writes nothing into the run folder (through ``seqnet.run``, which runs the job as
``seqnet-train`` does)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

import seqnet
from conftest import TINY_RUN, compose_config
from helpers.processes import seqnet_train
from helpers.runs import only_child
from seqnet.data import build_task
from seqnet.errors import ConfigError, DataFileError
from seqnet.gradients import load_gradients, measure_profile
from seqnet.models import build_model
from seqnet.training.checks import check_config

#: The model each task's run trains.
MODELS = {"timeseries": "rnn", "arrays": "lstm", "text": "gru", "idx": "rnn"}
#: Keys beside the files': small values for the keys each task has.
EXTRA = {"text": {"seq_len": 10, "batch_size": 8}, "idx": {"batch_size": 8}}
STEPS = {"timeseries": 8, "arrays": 10, "text": 10, "idx": 64}  # each profile's timesteps
#: Two steps, a profile at each end.
SHORT = ["trainer.max_steps=2", "trainer.val_every_n_steps=2", "trainer.ckpt_every_n_steps=2",
         "grad_log.every_n_steps=2"]  # fmt: skip


def write_experiments(conf: Path, data_files: dict[str, dict]) -> None:
    """``conf/experiment/files_<task>.yaml``: the task and the keys that read its files."""
    (conf / "experiment").mkdir(parents=True)
    for task, keys in data_files.items():
        data = {**keys, **EXTRA.get(task, {})}
        lines = "".join(f"  {k}: {json.dumps(v)}\n" for k, v in data.items())
        text = (
            f"# @package _global_\ndefaults:\n  - override /data: {task}\n"
            f"  - override /model: {MODELS[task]}\n\ndata:\n{lines}"
        )
        (conf / "experiment" / f"files_{task}.yaml").write_text(text)


@pytest.mark.slow
def test_the_file_tasks_train_from_the_command_line(tmp_path: Path, data_files) -> None:
    write_experiments(tmp_path / "conf", data_files)
    experiments = ",".join(f"files_{task}" for task in sorted(STEPS))
    result = seqnet_train(tmp_path, "-m", "--config-dir", "conf", f"experiment={experiments}",
                          *TINY_RUN, *SHORT)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    sweep = only_child(tmp_path / "outputs" / "multirun")
    runs = sorted(p.parent for p in sweep.rglob("metrics.json"))
    seen = set()
    for run_dir in runs:
        cfg = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
        task_name, model_name = cfg.data.name, cfg.model.name
        seen.add((task_name, model_name))
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert metrics["step"] == 2 and np.isfinite(metrics["val/loss"])
        steps, norms, _ = load_gradients(run_dir / "gradients.npz")
        assert steps.tolist() == [0, 2]
        # The last profile is the saved model's, measured again here on the run's probe batch.
        saved = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
        task = build_task(cfg.data)
        model = build_model(cfg.model, task.spec)
        model.load_state_dict(saved["model"])
        again = measure_profile(model, task, task.probe_batch(cfg.grad_log.batch_size), 2)
        assert list(norms) == model.probe_names
        for q, values in norms.items():
            assert values.shape == (2, STEPS[task_name]), (run_dir.name, q)
            np.testing.assert_allclose(values[-1], again.norms[q], rtol=1e-6, err_msg=q)
    assert seen == set(MODELS.items())


def test_bad_data_is_one_line_and_writes_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    csv = tmp_path / "prices.csv"
    csv.write_text("day,price\n1,3.5\n2,nan\n3,4.0\n")
    run_dir = tmp_path / "run"
    with pytest.raises(DataFileError) as e:  # seqnet-train prints it as one line
        seqnet.run(["data=timeseries", f"data.path={csv}", "data.target=price",
                    f"hydra.run.dir={run_dir}", "trainer.progress_bar=false"])  # fmt: skip
    assert str(e.value) == (
        f"data.path: {csv}: column 'price' has NaN or infinite values at row 1 (numbered from 0 "
        "after the header); fill or remove them, or set data.nan_policy=drop (leave those rows "
        "out) or data.nan_policy=ffill (carry the last value forward)"
    )
    # Hydra's own record of the run (.hydra/, train.log) and the folder's claim and lock only.
    names = sorted(p.name for p in run_dir.iterdir())
    assert names == [".hydra", ".seqnet-run.json", ".seqnet-run.lock", "train.log"]


def test_a_required_key_left_unset_is_named() -> None:
    with pytest.raises(ConfigError) as e:
        check_config(compose_config(["data=arrays"]))
    assert str(e.value) == (
        "data.path is required (data=arrays has no default for it): set it, e.g. seqnet-train "
        "data=arrays data.path=..."
    )
    with pytest.raises(ConfigError) as e:
        check_config(compose_config(["data=timeseries", "data.path=prices.csv"]))
    assert str(e.value) == (
        "data.target is required (data=timeseries has no default for it): set it, e.g. "
        "seqnet-train data=timeseries data.target=..."
    )
