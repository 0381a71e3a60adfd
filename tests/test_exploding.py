"""Exploding gradients: the jump warning and the pre/post-clip norms."""

from __future__ import annotations

import logging

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from seqnet.data.tasks.adding import AddingProblem
from seqnet.training.loop import train


def test_gradient_jump_warns_and_is_logged(make_cfg, tmp_path, monkeypatch, caplog):
    calls = {"n": 0}
    original = AddingProblem.loss

    def loss_with_spike(self, pred, y):
        calls["n"] += 1
        loss = original(self, pred, y)
        return loss * 1e5 if calls["n"] == 4 else loss  # the 4th update's gradient x 1e5

    monkeypatch.setattr(AddingProblem, "loss", loss_with_spike)
    with caplog.at_level(logging.WARNING, logger="seqnet.training.loop"):
        train(make_cfg("model=rnn", "grad_log.every_n_steps=0"))
    warnings = [r.getMessage() for r in caplog.records if "jumped" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].startswith("step 4: gradient norm jumped from ")
    assert "consider trainer.clip_grad_norm=1.0" in warnings[0]
    acc = EventAccumulator(str(tmp_path / "run" / "tb"), size_guidance={"scalars": 0})
    acc.Reload()
    norms = {e.step: e.value for e in acc.Scalars("train/grad_norm")}
    assert norms[4] / norms[3] > 1e4
    assert f"{norms[4]:.3g}" in warnings[0]


def test_clipping_records_pre_and_post_norms(make_cfg, tmp_path):
    metrics = train(make_cfg("trainer.clip_grad_norm=0.01", "grad_log.every_n_steps=0"))
    acc = EventAccumulator(str(tmp_path / "run" / "tb"), size_guidance={"scalars": 0})
    acc.Reload()
    pre = [e.value for e in acc.Scalars("train/grad_norm")]
    post = [e.value for e in acc.Scalars("train/grad_norm_clipped")]
    fraction = [e.value for e in acc.Scalars("train/clipped_fraction")]
    clipped = [p > 0.01 for p in pre]
    assert post == [pytest.approx(min(p, 0.01), rel=1e-6) for p in pre]
    assert metrics["clipped_steps"] == sum(clipped)
    assert fraction[-1] == pytest.approx(sum(clipped) / len(pre))
