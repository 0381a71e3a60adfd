"""copy_memory: the TCN paper's layout, determinism, the memoryless baseline on real batches,
the metrics and the per-sequence loss used by the gradient probes; a short learning run
that beats the memoryless baseline."""

from __future__ import annotations

import math

import pytest
import torch
from torch.nn import functional as F

from helpers.tasks import learn
from seqnet.data import build_task
from seqnet.data.tasks.copy_memory import CopyMemory, memoryless_loss


@pytest.mark.parametrize("T", [1, 5, 50])
def test_layout_is_the_tcn_definition(T: int) -> None:
    x, y = CopyMemory(seq_len=T, batch_size=512, val_size=8).train_batch(seed=0, step=0)
    assert x.shape == y.shape == (512, T + 20)
    assert x.dtype == y.dtype == torch.int64
    symbols = x[:, :10]
    assert int(symbols.min()) == 1 and int(symbols.max()) == 8
    # T - 1 blanks, then the delimiter 9 on the last 11 steps.
    assert bool((x[:, 10 : T + 9] == 0).all())
    assert bool((x[:, T + 9 :] == 9).all())
    # Blanks as targets until the recall phase, then the 10 symbols in order.
    assert bool((y[:, : T + 10] == 0).all())
    assert torch.equal(y[:, T + 10 :], symbols)
    # Every symbol value appears at every memory position (uniform draws).
    for position in range(10):
        assert sorted(symbols[:, position].unique().tolist()) == list(range(1, 9))


def test_batches_are_a_function_of_seed_and_step() -> None:
    task = CopyMemory(seq_len=10, batch_size=16, val_size=8)
    a = task.train_batch(seed=5, step=7)
    again = CopyMemory(seq_len=10, batch_size=16, val_size=8).train_batch(seed=5, step=7)
    assert torch.equal(a.x, again.x) and torch.equal(a.y, again.y)
    assert not torch.equal(a.x, task.train_batch(seed=5, step=8).x)
    assert not torch.equal(a.x, task.train_batch(seed=6, step=7).x)


def test_val_set_is_fixed_and_its_head_does_not_depend_on_its_size() -> None:
    small = CopyMemory(seq_len=10, val_size=10, val_seed=3).val_set()
    large = CopyMemory(seq_len=10, val_size=600, val_seed=3).val_set()
    other = CopyMemory(seq_len=10, val_size=10, val_seed=4).val_set()
    assert torch.equal(large.x[:10], small.x)
    assert not torch.equal(other.x, small.x)
    assert len(large.x) == 600


def memoryless_logits(y: torch.Tensor, T: int, big: float = 1e4) -> torch.Tensor:
    """The best predictor that knows only the step index: certain blank before the recall
    phase, uniform over the symbols 1..8 in it."""
    logits = torch.full((*y.shape, 10), -big, dtype=torch.float64)
    logits[:, : T + 10, 0] = 0.0
    logits[:, T + 10 :, 1:9] = 0.0
    return logits


@pytest.mark.parametrize("T", [5, 100])
def test_memoryless_baseline_formula_holds_on_real_batches(T: int) -> None:
    task = CopyMemory(seq_len=T, batch_size=256, val_size=512)
    assert memoryless_loss(T) == 10 * math.log(8) / (T + 20)

    _, y = task.val_set()
    metrics = task.metrics(memoryless_logits(y, T), y)
    # Exact up to rounding: the targets are blank exactly where the predictor is certain.
    assert metrics["loss"] == pytest.approx(10 * math.log(8) / (T + 20), rel=1e-9)
    assert metrics["baseline_ratio"] == pytest.approx(1.0, rel=1e-9)

    # The best memoryless predictor fitted to real data (per-step class frequencies of 20k
    # training sequences) reaches the same cross-entropy: blanks are certain before the recall
    # phase, and the symbols are uniform over 1..8 in it. Its in-sample entropy of a recall step
    # is biased low by about (8 - 1) / (2 n) = 2e-4 nats.
    _, y_train = CopyMemory(seq_len=T, batch_size=20_000, val_size=8).train_batch(seed=1, step=0)
    assert bool((y_train[:, : T + 10] == 0).all())
    recall = y_train[:, T + 10 :]
    freq = torch.stack([torch.bincount(recall[:, i], minlength=10) for i in range(10)]) / 20_000
    entropy = -(freq * torch.log(freq.double().clamp_min(1e-300))).sum()  # over the 10 steps
    assert float(entropy) / (T + 20) == pytest.approx(memoryless_loss(T), rel=2e-3)


def test_recall_accuracy_counts_only_the_last_ten_steps() -> None:
    T = 5
    task = CopyMemory(seq_len=T, val_size=64)
    _, y = task.val_set()
    perfect = F.one_hot(y, 10).double() * 50.0
    metrics = task.metrics(perfect, y)
    assert metrics["recall_accuracy"] == 1.0
    assert metrics["loss"] < 1e-15
    # Wrong on recall step 3 of every sequence only: 9 of 10 recalled symbols right.
    wrong = perfect.clone()
    wrong[:, T + 13] = F.one_hot((y[:, T + 13] % 8) + 1, 10).double() * 50.0
    assert task.metrics(wrong, y)["recall_accuracy"] == pytest.approx(0.9, abs=1e-12)
    # Wrong on a blank step: the recall accuracy does not see it.
    blank_wrong = perfect.clone()
    blank_wrong[:, 0] = F.one_hot(torch.full_like(y[:, 0], 3), 10).double() * 50.0
    assert task.metrics(blank_wrong, y)["recall_accuracy"] == 1.0
    assert set(metrics) == set(task.metric_names) == {"loss", "baseline_ratio", "recall_accuracy"}


def test_loss_and_sequence_loss() -> None:
    task = CopyMemory(seq_len=3, batch_size=4, val_size=8)
    _, y = task.train_batch(seed=0, step=0)
    pred = torch.randn(*y.shape, 10, generator=torch.Generator().manual_seed(0))
    per_step = torch.stack(
        [F.cross_entropy(pred[i], y[i], reduction="none") for i in range(len(y))]
    )  # (batch, time), computed sequence by sequence
    assert float(task.loss(pred, y)) == pytest.approx(float(per_step.mean()), rel=1e-6)
    assert torch.allclose(task.sequence_loss(pred, y, last_only=True), per_step[:, -1])
    assert torch.allclose(task.sequence_loss(pred, y, last_only=False), per_step.sum(dim=1))


@pytest.mark.parametrize("bad", [0, -2])
def test_bad_seq_len_is_one_line_naming_the_key(bad: int) -> None:
    with pytest.raises(ValueError, match=rf"data\.seq_len >= 1 .* got {bad}$"):
        build_task({"name": "copy_memory", "seq_len": bad})


@pytest.mark.slow
@pytest.mark.usefixtures("one_thread")
def test_copy_memory_beats_the_memoryless_baseline(make_cfg) -> None:
    """T=5: the memoryless baseline's ratio is 1 and its recall accuracy 1/8."""
    metrics, _ = learn(
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
