"""Gradient profiles during training (``GradientMonitor``) are measurements only: the same
weights and metrics with profiles in float32, in float64 at every step, or none at all."""

from __future__ import annotations

import torch

from helpers.runs import accumulator as events
from seqnet.training.checkpoint import load_checkpoint
from seqnet.training.loop import train


def test_logging_does_not_change_training(make_cfg, tmp_path):
    with_log = make_cfg("model=gru", "model.num_layers=2", "model.dropout=0.3", run="on")
    without = make_cfg(
        "model=gru",
        "model.num_layers=2",
        "model.dropout=0.3",
        "grad_log.every_n_steps=0",
        run="off",
    )
    with_float64 = make_cfg(
        "model=gru",
        "model.num_layers=2",
        "model.dropout=0.3",
        "grad_log.dtype=float64",
        "grad_log.every_n_steps=1",
        run="f64",
    )
    m_on, m_off, m_64 = train(with_log), train(without), train(with_float64)
    assert m_on["val/loss"] == m_off["val/loss"] == m_64["val/loss"]
    ckpts = [
        load_checkpoint(tmp_path / r / "checkpoints" / "last.pt") for r in ("on", "off", "f64")
    ]
    for name, tensor in ckpts[1]["model"].items():
        assert torch.equal(ckpts[0]["model"][name], tensor), name
        assert torch.equal(ckpts[2]["model"][name], tensor), name
    assert not (tmp_path / "off" / "gradients.npz").exists()
    acc = events(tmp_path / "off")
    assert not [t for t in acc.Tags()["scalars"] if t.startswith("grad_")]
