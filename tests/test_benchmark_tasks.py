"""mnist1d, seq_digits, mackey_glass and copy_memory: shapes, dtypes and gradient profiles of
each variant, their configs; the test-set evaluation at the end of training; a short seeded
learning run per task that beats the task's trivial baseline."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.errors import ConfigCompositionException
from omegaconf import DictConfig, OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import compose_config
from seqnet.data import TASK_REGISTRY, build_task
from seqnet.gradients import measure_profile
from seqnet.models import build_model
from seqnet.tblog.hparams import all_metric_tags
from seqnet.training.evaluation import evaluate
from seqnet.training.loop import train

#: Small versions of each task (and variant): (data config, timesteps, output per step?)
TASKS = {
    "mnist1d": ({"name": "mnist1d", "batch_size": 8}, 40),
    "seq_digits_pixels": ({"name": "seq_digits", "batch_size": 8, "permute": True}, 64),
    "seq_digits_rows": ({"name": "seq_digits", "batch_size": 8, "read": "rows"}, 8),
    "mackey_glass": ({"name": "mackey_glass", "batch_size": 8, "seq_len": 12}, 12),
    "copy_memory": ({"name": "copy_memory", "batch_size": 8, "seq_len": 4, "val_size": 8}, 24),
}


@pytest.fixture(scope="module")
def tasks() -> dict[str, object]:
    return {name: build_task(cfg) for name, (cfg, _) in TASKS.items()}


@pytest.mark.parametrize("task_name", list(TASKS))
def test_shapes_dtypes_and_profiles(tasks, task_name: str) -> None:
    """Inputs and outputs of each variant; a full profile over all T steps for both probe
    losses. (tests/test_shapes.py trains every registered model on every task.)"""
    task, (_, steps) = tasks[task_name], TASKS[task_name]
    spec = task.spec
    x, y = task.train_batch(seed=0, step=0)
    assert len(x) == len(y) == 8
    if spec.input_kind == "tokens":
        assert x.dtype == torch.int64 and x.shape == (8, steps)
        assert int(x.max()) < spec.input_size
    else:
        assert x.dtype == torch.float32 and x.shape == (8, steps, spec.input_size)
    torch.manual_seed(0)
    model = build_model({"name": "gru", "hidden_size": 8}, spec)
    pred, _ = model(x)
    expected = (8, spec.output_size) if spec.output_mode == "last" else (8, steps, spec.output_size)
    assert pred.shape == expected and pred.dtype == torch.float32
    assert y.dtype == (torch.float32 if spec.output_size == 1 else torch.int64)
    probe = tuple(t[:4] for t in task.val_set())
    for which in ("last", "total"):
        profile = measure_profile(model, task, probe, step=0, dtype="float64", loss=which)
        assert profile.norms["h_l0"].shape == (steps,)
        assert bool(np.isfinite(profile.norms["h_l0"]).all())
        assert profile.norms["h_l0"][-1] > 0


# ---------------------------------------------------------------------------- configs

CONFIGS = {
    "mnist1d": {"batch_size": 100, "shuffle_seq": False, "val_size": 400},
    "mackey_glass": {
        "batch_size": 64,
        "seq_len": 64,
        "horizon": 6,
        "tau": 17,
        "series_length": 6000,
    },
    "copy_memory": {"batch_size": 64, "seq_len": 50, "val_size": 1024, "val_seed": 1234},
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_each_task_config_declares_only_its_own_keys(name: str) -> None:
    cfg = compose_config([f"data={name}"])
    assert OmegaConf.to_container(cfg.data) == {"name": name, **CONFIGS[name]}
    assert OmegaConf.get_type(cfg.data) is TASK_REGISTRY[name].config
    # The YAML repeats the schema's defaults: building from either gives the same task options.
    assert TASK_REGISTRY.resolve(cfg.data)[1] == TASK_REGISTRY.resolve({"name": name})[1]


def test_keys_of_other_tasks_are_refused_by_name() -> None:
    with pytest.raises(ConfigCompositionException, match="seq_len"):
        compose_config(["data=mnist1d", "data.seq_len=10"])
    with pytest.raises(ConfigCompositionException, match="val_size"):
        compose_config(["data=mackey_glass", "data.val_size=10"])


# ---------------------------------------------------------------------------- learning runs


def run_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    acc = EventAccumulator(str(run_dir / "tb"), size_guidance={"scalars": 0})
    acc.Reload()
    return {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}


def learn(make_cfg: Callable[..., DictConfig], run: str, *overrides: str) -> tuple[dict, Path]:
    cfg = make_cfg(
        *overrides,
        "model=gru",
        "optim.lr=0.01",
        "trainer.progress_bar=false",
        "grad_log.every_n_steps=0",
        "seed=0",
        run=run,
        tiny=False,
    )
    cfg.trainer.val_every_n_steps = cfg.trainer.ckpt_every_n_steps = cfg.trainer.max_steps
    return train(cfg), Path(cfg.paths.run_dir)


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_mnist1d_learns_and_reports_test_accuracy(make_cfg) -> None:
    """Chance is 10%; a GRU reaches well above it in 150 steps, and the test set is evaluated
    once at the end into TensorBoard, metrics.json and the HPARAMS columns."""
    metrics, run_dir = learn(
        make_cfg, "mnist1d", "data=mnist1d", "model.hidden_size=24", "trainer.max_steps=150"
    )
    assert metrics["val/accuracy"] > 0.4  # measured: 0.60
    assert metrics["test/accuracy"] > 0.4
    assert json.loads((run_dir / "metrics.json").read_text()) == metrics
    tags = run_scalars(run_dir)
    for name in ("loss", "accuracy"):
        assert tags[f"test/{name}"] == [(150, pytest.approx(metrics[f"test/{name}"], rel=1e-6))]
        assert tags[f"final/test_{name}"] == tags[f"test/{name}"]
    # The test metrics are those of the final model on the test set.
    ckpt = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    task = build_task({"name": "mnist1d"})
    model = build_model(ckpt["config"]["model"], task.spec)
    model.load_state_dict(ckpt["model"])
    again = evaluate(model, task, task.test_set())
    assert again["accuracy"] == metrics["test/accuracy"]
    # HPARAMS has a test column beside every validation column (tests/test_task_runs.py checks
    # that every run writes all_metric_tags()).
    columns = all_metric_tags()
    val_columns = [c for c in columns if c.startswith("final/val_")]
    assert [c.replace("final/val_", "final/test_") for c in val_columns] == [
        c for c in columns if c.startswith("final/test_")
    ]
    assert "final/test_accuracy" in columns


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_copy_memory_beats_the_memoryless_baseline(make_cfg) -> None:
    """T=5: the memoryless baseline's ratio is 1 and its recall accuracy 1/8."""
    metrics, run_dir = learn(
        make_cfg,
        "copy",
        "data=copy_memory",
        "data.seq_len=5",
        "data.val_size=512",
        "model.hidden_size=64",
        "trainer.max_steps=300",
    )
    assert metrics["val/baseline_ratio"] < 0.95  # measured: 0.81
    assert metrics["val/recall_accuracy"] > 0.18  # measured: 0.32
    assert not any(k.startswith("test/") for k in metrics)  # generated: no test set
    tags = run_scalars(run_dir)
    assert not any(t.startswith(("test/", "final/test_")) for t in tags)


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_seq_digits_rows_learns(make_cfg) -> None:
    metrics, _ = learn(
        make_cfg,
        "digits",
        "data=seq_digits",
        "data.read=rows",
        "model.hidden_size=24",
        "trainer.max_steps=150",
    )
    assert metrics["val/accuracy"] > 0.85  # measured: 0.96
    assert metrics["test/accuracy"] > 0.85


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_mackey_glass_beats_the_naive_forecast(make_cfg) -> None:
    metrics, _ = learn(
        make_cfg,
        "mg",
        "data=mackey_glass",
        "data.seq_len=16",
        "model.hidden_size=16",
        "trainer.max_steps=200",
    )
    assert metrics["val/baseline_ratio"] < 0.05  # measured: 0.005
    assert metrics["test/baseline_ratio"] < 0.05
    assert metrics["test/mse"] == pytest.approx(metrics["test/loss"])
