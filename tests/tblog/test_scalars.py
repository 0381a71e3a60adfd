"""The TensorBoard scalars of a run: train/ at every logged step, val/ at every validation,
final/ once, the values those of the returned metrics."""

from __future__ import annotations

import pytest

from helpers.runs import MODELS, TRAIN_STEPS, VAL_STEPS, scalars


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
