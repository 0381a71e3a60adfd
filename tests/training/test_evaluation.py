"""The test set is evaluated once, at the end of training, with the final model: into the
returned metrics, metrics.json and TensorBoard (test/ and final/test_); a task without a test
set (generated data) has none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import TINY_RUN, compose_config
from helpers.runs import last_ckpt, scalars
from seqnet.data import build_task
from seqnet.models import build_model
from seqnet.training.evaluation import evaluate
from seqnet.training.loop import train

pytestmark = pytest.mark.usefixtures("one_thread")


def test_test_set_is_evaluated_once_at_the_end(tmp_path: Path) -> None:
    run_dir = tmp_path / "digits"
    cfg = compose_config(
        [*TINY_RUN, "data=digits", "data.batch_size=8", f"paths.run_dir={run_dir}"]
    )
    metrics = train(cfg)
    assert json.loads((run_dir / "metrics.json").read_text()) == metrics
    # The metrics of the final model on the test set, recomputed here.
    task = build_task(cfg.data)
    model = build_model(cfg.model, task.spec)
    model.load_state_dict(last_ckpt(run_dir)["model"])
    again = evaluate(model, task, task.test_set())
    assert {k: metrics[f"test/{k}"] for k in again} == again
    tags = scalars(run_dir)
    for name in ("loss", "accuracy"):
        assert tags[f"test/{name}"] == [(6, pytest.approx(metrics[f"test/{name}"], rel=1e-6))]
        assert tags[f"final/test_{name}"] == tags[f"test/{name}"]


def test_generated_tasks_have_no_test_set(runs) -> None:
    _, metrics, run_dir = runs["lstm"]  # the adding problem
    assert not any(k.startswith("test/") for k in metrics)
    assert not any(t.startswith(("test/", "final/test_")) for t in scalars(run_dir))
