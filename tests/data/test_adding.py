"""The adding problem: shapes, markers, targets, determinism and the 1/6 baseline."""

from __future__ import annotations

import math

import pytest
import torch

from seqnet.data.seeds import heldout_seed, stream_seed
from seqnet.data.tasks.adding import BASELINE_MSE, AddingProblem


def marker_positions(x: torch.Tensor) -> torch.Tensor:
    """(n, 2) sorted marker indices; fails unless each sequence has exactly two markers."""
    rows, cols = (x[..., 1] == 1.0).nonzero(as_tuple=True)
    counts = torch.bincount(rows, minlength=len(x))
    assert counts.tolist() == [2] * len(x)
    return cols.view(len(x), 2)


@pytest.mark.parametrize("seq_len", [2, 7, 50])
def test_batch_shapes_markers_and_targets(seq_len: int) -> None:
    task = AddingProblem(seq_len=seq_len, batch_size=256, val_size=8)
    x, y = task.train_batch(seed=0, step=0)
    assert x.shape == (256, seq_len, 2)
    assert y.shape == (256,)
    assert x.dtype == torch.float32
    assert y.dtype == torch.float32

    values, markers = x[..., 0], x[..., 1]
    # The marker channel is 0/1 only, with exactly one 1 in each half.
    assert set(markers.unique().tolist()) <= {0.0, 1.0}
    half = seq_len // 2
    assert markers[:, :half].sum(dim=1).tolist() == [1.0] * 256
    assert markers[:, half:].sum(dim=1).tolist() == [1.0] * 256
    pos = marker_positions(x)
    assert bool((pos[:, 0] < half).all())
    assert bool((pos[:, 1] >= half).all())
    assert bool((pos[:, 1] < seq_len).all())

    # The target is the sum of the two marked values (one float32 addition, so exact).
    rows = torch.arange(256)
    assert torch.equal(y, values[rows, pos[:, 0]] + values[rows, pos[:, 1]])

    assert float(values.min()) >= 0.0
    assert float(values.max()) < 1.0


def test_markers_cover_both_halves() -> None:
    """Every position of each half is used (markers are drawn over the whole half)."""
    task = AddingProblem(seq_len=10, batch_size=2000, val_size=8)
    pos = marker_positions(task.train_batch(seed=3, step=0).x)
    assert sorted(pos[:, 0].unique().tolist()) == [0, 1, 2, 3, 4]
    assert sorted(pos[:, 1].unique().tolist()) == [5, 6, 7, 8, 9]


def test_train_batches_are_a_function_of_seed_and_step() -> None:
    task = AddingProblem(seq_len=20, batch_size=16, val_size=8)
    a = task.train_batch(seed=5, step=7)
    b = task.train_batch(seed=5, step=8)
    c = task.train_batch(seed=6, step=7)
    # Same (seed, step) -> identical, whatever was drawn in between and from another instance.
    again = AddingProblem(seq_len=20, batch_size=16, val_size=8).train_batch(seed=5, step=7)
    assert torch.equal(a.x, task.train_batch(seed=5, step=7).x)
    assert torch.equal(a.x, again.x)
    assert torch.equal(a.y, again.y)
    assert not torch.equal(a.x, b.x)
    assert not torch.equal(a.y, b.y)
    assert not torch.equal(a.x, c.x)


def test_train_batches_ignore_the_global_generator() -> None:
    task = AddingProblem(seq_len=20, batch_size=16, val_size=8)
    torch.manual_seed(0)
    a = task.train_batch(seed=1, step=2)
    torch.manual_seed(99)
    torch.rand(100)
    b = task.train_batch(seed=1, step=2)
    assert torch.equal(a.x, b.x)


def test_val_set_is_fixed_by_val_seed() -> None:
    torch.manual_seed(0)
    a = AddingProblem(seq_len=20, batch_size=16, val_size=64, val_seed=11)
    a.train_batch(seed=1, step=0)  # drawing training batches leaves the val set alone
    torch.manual_seed(1)
    b = AddingProblem(seq_len=20, batch_size=16, val_size=64, val_seed=11)
    c = AddingProblem(seq_len=20, batch_size=16, val_size=64, val_seed=12)
    assert a.val_set().x.shape == (64, 20, 2)
    assert torch.equal(a.val_set().x, b.val_set().x)
    assert torch.equal(a.val_set().y, b.val_set().y)
    assert not torch.equal(a.val_set().x, c.val_set().x)
    # The training seed only changes the training stream.
    assert not torch.equal(a.train_batch(seed=1, step=0).x, a.train_batch(seed=2, step=0).x)
    assert torch.equal(a.val_set().x, b.val_set().x)


def test_constant_prediction_baseline_is_one_sixth() -> None:
    """Predicting 1.0 gives MSE = Var(U1 + U2) = 1/6.

    The squared error z^2 with z = U1 + U2 - 1 (triangular on [-1, 1]) has E[z^4] = 1/15, so
    Var(z^2) = 1/15 - 1/36 = 7/180 and the standard error of the mean over n = 100k sequences is
    sqrt(7/180 / 1e5) = 6.2e-4. The tolerance is 5 standard errors (the data are seeded, so the
    check is deterministic; 5 sigma leaves room for a valid change of generator).
    """
    n = 100_000
    task = AddingProblem(seq_len=10, batch_size=8, val_size=n, val_seed=1234)
    _, y = task.val_set()
    assert y.shape == (n,)
    standard_error = math.sqrt((1 / 15 - 1 / 36) / n)
    mse = float(((1.0 - y.double()) ** 2).mean())
    assert abs(mse - 1 / 6) < 5 * standard_error
    # The target's mean is 1 (standard error sqrt(1/6 / n) = 1.3e-3).
    assert abs(float(y.double().mean()) - 1.0) < 5 * math.sqrt(1 / 6 / n)


def test_metrics_report_baseline_ratio() -> None:
    task = AddingProblem(seq_len=10, batch_size=8, val_size=500)
    _, y = task.val_set()
    pred = torch.full((500, 1), 1.0)  # the model's (batch, output_size) shape
    metrics = task.metrics(pred, y)
    expected = float(((1.0 - y.double()) ** 2).mean())
    assert set(metrics) == {"loss", "mse", "baseline_ratio"}
    assert set(metrics) == set(task.metric_names)
    assert metrics["mse"] == pytest.approx(expected, rel=1e-12, abs=0)
    assert metrics["loss"] == metrics["mse"]
    assert metrics["baseline_ratio"] == metrics["mse"] / (1.0 / 6.0)
    assert BASELINE_MSE == 1.0 / 6.0


def test_loss_is_mean_squared_error() -> None:
    task = AddingProblem(seq_len=10, batch_size=8, val_size=8)
    pred = torch.tensor([[0.5], [1.0], [2.0]])
    y = torch.tensor([1.0, 1.0, 1.0])
    assert float(task.loss(pred, y)) == pytest.approx((0.25 + 0.0 + 1.0) / 3, rel=1e-7)
    per_sequence = task.sequence_loss(pred, y)
    assert per_sequence.tolist() == [0.25, 0.0, 1.0]


@pytest.mark.parametrize("seq_len", [1, 0, -3])
def test_too_short_sequences_are_rejected(seq_len: int) -> None:
    with pytest.raises(ValueError, match=r"data\.seq_len >= 2") as excinfo:
        AddingProblem(seq_len=seq_len)
    assert f"got {seq_len}" in str(excinfo.value)


# ---------------------------------------------------------------------------- seed domains


def test_validation_head_does_not_depend_on_the_set_size() -> None:
    """The probe batch is the head of the validation set: a larger set (seqnet-grads
    batch_size=N above val_size) must start with the same sequences."""
    small = AddingProblem(seq_len=30, batch_size=4, val_size=10).val_set()
    large = AddingProblem(seq_len=30, batch_size=4, val_size=700).val_set()
    assert torch.equal(large.x[:10], small.x)
    assert torch.equal(large.y[:10], small.y)
    assert len(large.x) == 700
    # Blocks after the first are new sequences, not copies of it.
    assert not torch.equal(large.x[256:266], small.x)


def test_no_training_batch_is_the_validation_set() -> None:
    """seed=0, step=1234 used to reproduce the validation set of val_seed=1234 exactly."""
    task = AddingProblem(seq_len=20, batch_size=64, val_size=64, val_seed=1234)
    for seed, step in [(0, 1234), (1234, 0), (0, 0)]:
        assert not torch.equal(task.train_batch(seed, step).x, task.val_set().x)
    seeds = {stream_seed(s, k) for s in range(50) for k in range(50)}
    heldout = {heldout_seed(v, b) for v in range(50) for b in range(50)}
    assert len(seeds) == 2500 and len(heldout) == 2500
    assert not seeds & heldout
    assert all(0 <= s < 2**63 for s in seeds | heldout)
