"""sine_gen: the waveforms against their formula, the zero prediction's baseline, and a short
learning run (free generation well below predicting zero)."""

from __future__ import annotations

import math

import pytest
import torch

from helpers.tasks import assert_batches_are_pure, train_steps
from seqnet.data import Decoded, build_task
from seqnet.data.tasks.sine_gen import BASELINE_MSE
from seqnet.training.evaluation import evaluate

pytestmark = pytest.mark.usefixtures("one_thread")


def test_sine_gen_waveforms_and_zero_baseline() -> None:
    task = build_task({"name": "sine_gen", "seq_len": 12, "val_size": 20000})
    x, y = task.val_set()
    assert x.shape == (20000, 1, 3) and y.shape == (20000, 12, 1) and y.dtype == torch.float32
    frequency, phase, amplitude = x[:, 0].double().unbind(-1)
    t = torch.arange(12, dtype=torch.float64) / 12
    expected = amplitude[:, None] * torch.sin(2 * math.pi * frequency[:, None] * t + phase[:, None])
    torch.testing.assert_close(y[..., 0].double(), expected, atol=1e-5, rtol=0)
    assert frequency.min() >= 1 and frequency.max() <= 3 and amplitude.min() >= 0.5
    # The zero prediction's MSE on real data against its formula E[A^2]/2 = 13/24.
    zero = task.metrics(Decoded(torch.zeros_like(y), torch.zeros_like(y)), y)
    assert zero["mse"] == pytest.approx(BASELINE_MSE, rel=0.01)
    assert zero["baseline_ratio"] == pytest.approx(1.0, rel=0.01)
    assert_batches_are_pure(task)


def test_sine_gen_learns() -> None:
    task = build_task({"name": "sine_gen", "seq_len": 16, "batch_size": 32, "val_size": 256})
    model = train_steps(task, {"name": "gru", "hidden_size": 24, "encoder_size": 8}, 200)
    metrics = evaluate(model, task)
    assert metrics["baseline_ratio"] < 0.7  # free generation, well below predicting zero
    assert metrics["loss"] < 0.05  # teacher forced
