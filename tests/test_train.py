"""End-to-end training through ``seqnet.training.loop.train``: the files a run writes, its
TensorBoard scalars and HPARAMS, determinism. (Checkpoints and resume: test_checkpoints.py;
non-finite steps, clipping and configuration errors: test_train_safeguards.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import compose_config
from seqnet.data.tasks.adding import AddingProblem
from seqnet.gradients import batch_fingerprint, load_gradients
from seqnet.models import build_model
from seqnet.tblog.hparams import all_hparam_keys, flat_hparams
from seqnet.training.checkpoint import REQUIRED_KEYS
from seqnet.training.loop import train
from train_runs import (
    MODELS,
    TRAIN_STEPS,
    VAL_STEPS,
    accumulator,
    assert_state_equal,
    hparams,
    last_ckpt,
    scalars,
    tiny,
)


@pytest.mark.parametrize("name", MODELS)
def test_run_writes_metrics_checkpoint_and_gradients(runs, name: str) -> None:
    cfg, metrics, run_dir = runs[name]
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved == metrics
    assert set(saved) == {
        "val/loss",
        "val/mse",
        "val/baseline_ratio",
        "step",
        "nonfinite_steps",
        "clipped_steps",
    }
    assert (saved["step"], saved["nonfinite_steps"], saved["clipped_steps"]) == (6, 0, 0)
    assert saved["val/mse"] == saved["val/loss"]
    assert saved["val/baseline_ratio"] == saved["val/mse"] / (1 / 6)

    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["last.pt"]
    ckpt = last_ckpt(run_dir)
    assert set(REQUIRED_KEYS) <= set(ckpt)
    assert ckpt["step"] == 6
    assert ckpt["config"]["model"]["name"] == name
    assert ckpt["config"]["model"]["hidden_size"] == 16

    # The reported val/loss is the MSE of the saved model on the validation set, recomputed here.
    task = AddingProblem(seq_len=12, batch_size=8, val_size=32, val_seed=1234)
    model = build_model(cfg.model, task.spec)
    model.load_state_dict(ckpt["model"])
    model.eval()
    x, y = task.val_set()
    with torch.no_grad():
        pred = model(x)[0].squeeze(-1)
    assert metrics["val/loss"] == pytest.approx(float(((pred.double() - y) ** 2).mean()), rel=1e-6)

    steps, norms, meta = load_gradients(run_dir / "gradients.npz")
    assert steps.tolist() == [0, 3, 6]
    states = ["h_l0", "c_l0"] if name == "lstm" else ["h_l0"]
    assert sorted(norms) == sorted(["x", *states])
    for q in norms:
        assert norms[q].shape == (3, 12)
        assert bool(np.isfinite(norms[q]).all())
        assert bool((norms[q] > 0).all())
    probe = batch_fingerprint(tuple(t[:8] for t in task.val_set()))  # grad_log.batch_size=8
    assert meta == {"dtype": "float32", "loss": "last", "probe": probe}


@pytest.mark.parametrize("name", MODELS)
def test_tensorboard_scalars(runs, name: str) -> None:
    _, metrics, run_dir = runs[name]
    events = list((run_dir / "tb").glob("events.out.tfevents.*"))
    assert len(events) == 1
    tags = scalars(run_dir)
    for tag in ("train/loss", "train/grad_norm", "train/grad_norm_clipped", "train/lr"):
        assert [s for s, _ in tags[tag]] == TRAIN_STEPS, tag
    for tag in ("val/loss", "val/mse", "val/baseline_ratio"):
        assert [s for s, _ in tags[tag]] == VAL_STEPS, tag
    for tag in ("final/val_loss", "final/val_mse", "final/val_baseline_ratio"):
        assert [s for s, _ in tags[tag]] == [6], tag
    assert [v for _, v in tags["train/lr"]] == pytest.approx([1e-3] * 6, rel=1e-6)
    # Without clipping the "clipped" norm is the norm itself.
    assert tags["train/grad_norm_clipped"] == tags["train/grad_norm"]
    assert all(v > 0 for _, v in tags["train/grad_norm"])
    # TensorBoard stores float32: the last val/loss is the returned metric to that precision.
    assert tags["val/loss"][-1][1] == pytest.approx(metrics["val/loss"], rel=1e-6)
    assert tags["final/val_loss"][0][1] == pytest.approx(metrics["val/loss"], rel=1e-6)
    assert tags["val/baseline_ratio"][-1][1] == pytest.approx(
        metrics["val/baseline_ratio"], rel=1e-6
    )
    # Gradient profiles: one curve per measured step, TensorBoard step = timestep.
    profile = tags["grad_profile/h_l0/step_0000003"]
    assert [s for s, _ in profile] == list(range(12))
    assert [s for s, _ in tags["grad_summary/h_l0/log10_ratio"]] == [0, 3, 6]


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


# ---------------------------------------------------------------------------- determinism


@pytest.mark.slow
def test_same_seed_same_run_different_seed_different_run(runs, tmp_path: Path) -> None:
    _, metrics, first = runs["lstm"]
    second_metrics = train(tiny(tmp_path, "again", "model=lstm"))
    other_metrics = train(tiny(tmp_path, "other", "model=lstm", "seed=43"))
    second, other = tmp_path / "again", tmp_path / "other"

    assert scalars(first)["train/loss"] == scalars(second)["train/loss"]
    assert scalars(first)["val/loss"] == scalars(second)["val/loss"]
    assert second_metrics == metrics
    assert_state_equal(last_ckpt(first)["model"], last_ckpt(second)["model"])
    assert_state_equal(last_ckpt(first)["optimizer"], last_ckpt(second)["optimizer"])

    losses = [v for _, v in scalars(first)["train/loss"]]
    other_losses = [v for _, v in scalars(other)["train/loss"]]
    assert all(a != b for a, b in zip(losses, other_losses, strict=True))
    assert other_metrics["val/loss"] != metrics["val/loss"]


# ---------------------------------------------------------------------------- resume
