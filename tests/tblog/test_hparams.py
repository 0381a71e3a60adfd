"""HPARAMS in the run's own TensorBoard folder: the flattened config of every run, the same keys
for every model and optimizer, and the metric columns of every task's metrics (test columns
beside the validation ones)."""

from __future__ import annotations

import pytest

from conftest import compose_config
from helpers.runs import MODELS, accumulator, hparams
from seqnet.data import TASK_REGISTRY
from seqnet.tblog.hparams import all_hparam_keys, all_metric_tags, flat_hparams


@pytest.mark.parametrize("name", MODELS)
def test_hparams_in_the_run_folder(runs, name: str) -> None:
    cfg, _, run_dir = runs[name]
    tb = run_dir / "tb"
    # add_hparams would have made a sub-folder (a second run in TensorBoard); there is none.
    assert [p.name for p in tb.iterdir() if p.is_dir()] == []
    values = hparams(run_dir)
    assert values["model/hidden_size"] == 16
    assert values["model/name"] == name
    assert values["data/seq_len"] == 12
    assert values["optim/lr"] == pytest.approx(1e-3)
    assert values["optim/_target_"] == "torch.optim.Adam"
    assert values["seed"] == 42
    assert values["model/nonlinearity"] == ("tanh" if name == "rnn" else "n/a")
    assert values["model/forget_bias"] == (1.0 if name == "lstm" else "n/a")
    assert values["grad_log/dtype"] == "float32"
    assert values["trainer/clip_grad_norm"] == "None"
    assert set(values) == set(flat_hparams(cfg))
    content = accumulator(run_dir).PluginTagToContent("hparams")
    assert set(content) == {
        "_hparams_/experiment",
        "_hparams_/session_start_info",
        "_hparams_/session_end_info",
    }


def test_hparam_keys_are_the_same_for_every_model(runs) -> None:
    key_sets = {name: set(hparams(run_dir)) for name, (_, _, run_dir) in runs.items()}
    assert key_sets["rnn"] == key_sets["lstm"] == key_sets["gru"]
    assert key_sets["rnn"] == set(all_hparam_keys())
    assert {"model/hidden_size", "model/nonlinearity", "model/forget_bias"} <= key_sets["rnn"]
    assert not any(k.endswith("_partial_") for k in key_sets["rnn"])
    # The same key set also for another optimizer.
    assert set(flat_hparams(compose_config(["optim=sgd"]))) == key_sets["rnn"]


def test_metric_columns_are_every_tasks_metrics() -> None:
    """Every run declares the same HPARAMS metric columns whatever its task (those of every
    task; tests/training/test_registered_runs.py reads them from each task's run), and a test
    column beside every validation column."""
    columns = all_metric_tags()
    names = {m for e in TASK_REGISTRY.values() for m in e.cls.metric_names}
    assert {f"final/val_{m}" for m in names} <= set(columns)
    assert {"final/val_bpc", "final/val_exact_match", "final/val_token_accuracy"} <= set(columns)
    val_columns = [c for c in columns if c.startswith("final/val_")]
    assert [c.replace("final/val_", "final/test_") for c in val_columns] == [
        c for c in columns if c.startswith("final/test_")
    ]
    assert "final/test_accuracy" in columns
