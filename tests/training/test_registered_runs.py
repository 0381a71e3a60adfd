"""Every registered task (with a GRU) and every variant (on the adding problem) through the real
training loop, as ``seqnet-train data=<task>`` / ``model=<variant>`` runs them: the metrics are
those of the saved model, recomputed here, and the gradient file has every probed quantity over
every timestep at the logged steps."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from omegaconf import DictConfig

from conftest import TINY_RUN, compose_config
from helpers.references import VARIANTS
from helpers.runs import last_ckpt, metric_columns
from seqnet.data import TASK_REGISTRY, build_task
from seqnet.data.files import FileConfig
from seqnet.gradients import load_gradients
from seqnet.models import build_model
from seqnet.tblog.hparams import all_metric_tags
from seqnet.training.evaluation import evaluate
from seqnet.training.loop import train

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]

#: Small values for the data keys a task's schema has.
TINY_DATA = {"batch_size": 8, "seq_len": 10, "val_size": 32, "max_digits": 2}


def assert_run_reports_its_model(cfg: DictConfig, metrics: dict, run_dir: Path) -> dict:
    """The returned metrics are metrics.json's and those of the saved model on the validation
    set; the gradient file holds the model's probed quantities at steps 0, 3 and 6. Returns
    the norms."""
    assert json.loads((run_dir / "metrics.json").read_text()) == metrics
    assert (metrics["step"], metrics["nonfinite_steps"]) == (6, 0)
    task = build_task(cfg.data)
    model = build_model(cfg.model, task.spec)
    model.load_state_dict(last_ckpt(run_dir)["model"])
    recomputed = evaluate(model, task)
    assert set(recomputed) == set(task.metric_names)
    for name, value in recomputed.items():
        assert metrics[f"val/{name}"] == pytest.approx(value, rel=1e-6), name
    steps, norms, _ = load_gradients(run_dir / "gradients.npz")
    assert steps.tolist() == [0, 3, 6]
    assert list(norms) == model.probe_names
    for q, values in norms.items():
        assert values.shape[0] == 3 and np.isfinite(values).all(), q
    # The same HPARAMS metric columns in every run, whatever the task: those of every task.
    assert metric_columns(run_dir) == all_metric_tags()
    return norms


#: The file tasks' runs are checked the same way by tests/training/test_file_task_resume.py.
BUILT_IN = [n for n, e in sorted(TASK_REGISTRY.items()) if not issubclass(e.config, FileConfig)]


@pytest.mark.parametrize("task", BUILT_IN)
def test_every_task_trains_end_to_end(task: str, tmp_path: Path) -> None:
    fields = {f.name for f in dataclasses.fields(TASK_REGISTRY[task].config)}
    data = [f"data.{k}={v}" for k, v in TINY_DATA.items() if k in fields]
    run_dir = tmp_path / task
    cfg = compose_config(
        [f"data={task}", *data, *TINY_RUN, "model=gru", "model.encoder_size=8",
         f"paths.run_dir={run_dir}"]
    )  # fmt: skip
    assert_run_reports_its_model(cfg, train(cfg), run_dir)


#: Every variant, and the plain models with zoneout (on the engine).
VARIANT_RUNS = [(name, {}) for name in VARIANTS] + [
    ("lstm", {"zoneout": 0.2}),
    ("gru", {"zoneout": 0.2}),
]


@pytest.mark.parametrize(
    ("name", "options"), VARIANT_RUNS, ids=[f"{n}{o or ''}" for n, o in VARIANT_RUNS]
)
def test_every_variant_trains_on_the_adding_problem(make_cfg, name, options) -> None:
    cfg = make_cfg(f"model={name}", *(f"model.{k}={v}" for k, v in options.items()))
    norms = assert_run_reports_its_model(cfg, train(cfg), Path(cfg.paths.run_dir))
    assert set(norms) == {"x", "h_l0"} | ({"c_l0"} if name.startswith("lstm") else set())
    for values in norms.values():  # (with zoneout the last c feeds nothing: 0)
        assert values.shape == (3, 12) and np.all(values[:, :-1] > 0)
