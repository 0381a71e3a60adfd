"""The file tasks from the command line, as a user runs them on their own files (written by the
tests): ``seqnet-train -m model=rnn,lstm,gru data=<task> data.path=...`` trains each model, with
a gradient profile of every quantity over every timestep that the saved model reproduces; bad
data stops with one line before any training and writes nothing into the run folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import TINY_RUN, compose_config
from helpers.data_files import overrides
from helpers.processes import seqnet_train
from helpers.runs import only_child
from seqnet.data import build_task
from seqnet.gradients import load_gradients, measure_profile
from seqnet.models import build_model

MODELS = ("rnn", "lstm", "gru")
#: Keys beside the files': small values for the keys each task has.
EXTRA = {"text": ["data.seq_len=10", "data.batch_size=8"], "idx": ["data.batch_size=8"]}
STEPS = {"timeseries": 8, "arrays": 10, "text": 10, "idx": 64}  # each profile's timesteps


@pytest.mark.slow
@pytest.mark.parametrize("task", sorted(STEPS))
def test_a_file_task_trains_every_model_from_the_command_line(
    task: str, tmp_path: Path, data_files
) -> None:
    data = [f"data={task}", *overrides(data_files[task]), *EXTRA.get(task, [])]
    result = seqnet_train(tmp_path, "-m", f"model={','.join(MODELS)}", *data, *TINY_RUN)
    assert result.returncode == 0, result.stderr[-3000:]
    sweep = only_child(tmp_path / "outputs" / "multirun")
    for model_name in MODELS:
        run_dir = sweep / f"model={model_name}"
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert metrics["step"] == 6 and np.isfinite(metrics["val/loss"])
        steps, norms, _ = load_gradients(run_dir / "gradients.npz")
        assert steps.tolist() == [0, 3, 6]
        # The last profile is the saved model's, measured again here on the run's probe batch.
        saved = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
        cfg = compose_config([*data, *TINY_RUN, f"model={model_name}"])
        task_ = build_task(cfg.data)
        model = build_model(cfg.model, task_.spec)
        model.load_state_dict(saved["model"])
        again = measure_profile(model, task_, task_.probe_batch(cfg.grad_log.batch_size), 6)
        assert list(norms) == model.probe_names
        for q, values in norms.items():
            assert values.shape == (3, STEPS[task]), q
            np.testing.assert_allclose(values[-1], again.norms[q], rtol=1e-6, err_msg=q)


def test_bad_data_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    csv = tmp_path / "prices.csv"
    csv.write_text("day,price\n1,3.5\n2,nan\n3,4.0\n")
    run_dir = tmp_path / "run"
    result = seqnet_train(tmp_path, "data=timeseries", f"data.path={csv}", "data.target=price",
                          f"hydra.run.dir={run_dir}", "trainer.progress_bar=false")  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"seqnet-train: error: data.path: {csv}: column 'price' has NaN or infinite values at "
        "row 1 (numbered from 0 after the header); fill or remove them, or set "
        "data.nan_policy=drop (leave those rows out) or data.nan_policy=ffill (carry the last "
        "value forward)"
    ]
    # Hydra's own record of the run (.hydra/, train.log) and the folder's claim; nothing else.
    assert sorted(p.name for p in run_dir.iterdir()) == [".hydra", ".seqnet-run.json", "train.log"]
    missing = seqnet_train(tmp_path, "data=arrays", f"hydra.run.dir={tmp_path / 'run2'}")
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        "seqnet-train: error: data.path is required (data=arrays has no default for it): set "
        "it, e.g. seqnet-train data=arrays data.path=..."
    ]
