"""mackey_glass: the integrated series against an independent integrator, the cache, the windows
and targets, the naive-forecast baseline on real batches, bad windows, and a short learning run
that beats the naive forecast."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.tasks import learn
from seqnet.data import build_task, cache
from seqnet.data.tasks import mackey_glass as mg
from seqnet.data.tasks.mackey_glass import MackeyGlass, integrate_mackey_glass, mackey_glass_series


def euler_reference(length: int, tau: int, dt: float = 0.001) -> np.ndarray:
    """The delay equation by forward Euler with a 100x finer step, sampled once per unit."""
    per_unit, delay = round(1 / dt), round(tau / dt)
    x = np.empty(delay + 1 + length * per_unit)
    x[: delay + 1] = 1.2
    for i in range(delay, len(x) - 1):
        lagged = x[i - delay]
        x[i + 1] = x[i] + dt * (0.2 * lagged / (1 + lagged**10) - 0.1 * x[i])
    return x[delay::per_unit][:length]


def test_series_matches_an_independent_fine_euler_integration(monkeypatch) -> None:
    monkeypatch.setattr(mg, "TRANSIENT", 0)  # compare from t=0, before chaos amplifies errors
    ours = integrate_mackey_glass(150, tau=17)
    reference = euler_reference(150, tau=17)
    assert ours[0] == 1.2
    assert np.abs(ours - reference).max() < 5e-4  # measured: 2.1e-4 (Euler's own error)
    # The classic attractor (after the transient): values between about 0.4 and 1.35.
    series = integrate_mackey_glass(2000, tau=17)
    assert 0.35 < series.min() < 0.5 and 1.25 < series.max() < 1.4


def test_cache_deletion_changes_nothing(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "cache"
    monkeypatch.setenv(cache.CACHE_ENV, str(folder))
    first = MackeyGlass(series_length=1000, seq_len=20)
    (file,) = folder.iterdir()
    assert file.name.startswith("mackey_glass-")
    cached = np.load(file)["x"]
    assert np.array_equal(cached, integrate_mackey_glass(1000, tau=17))
    file.unlink()
    folder.rmdir()
    second = MackeyGlass(series_length=1000, seq_len=20)
    assert folder.is_dir()
    for a, b in [(first.val_set(), second.val_set()), (first.test_set(), second.test_set())]:
        assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert torch.equal(first.train_batch(1, 5).x, second.train_batch(1, 5).x)
    assert first.baseline == second.baseline


def standardised_parts(length: int, tau: int = 17) -> tuple[np.ndarray, ...]:
    raw = mackey_glass_series(length, tau)
    n_train, n_val = int(length * 0.7), int(length * 0.15)
    train, val = raw[:n_train], raw[n_train : n_train + n_val]
    test = raw[n_train + n_val : n_train + 2 * n_val]
    mean, std = train.mean(), train.std()
    return tuple((p - mean) / std for p in (train, val, test))


def test_windows_and_targets_come_from_the_right_parts() -> None:
    L, h = 30, 4
    task = MackeyGlass(seq_len=L, horizon=h, series_length=2000)
    train, val, test = standardised_parts(2000)
    for (x, y), part in [(task.val_set(), val), (task.test_set(), test)]:
        n = len(part) - L - h + 1
        assert x.shape == (n, L, 1) and y.shape == (n,)
        assert x.dtype == y.dtype == torch.float32
        for i in (0, n // 2, n - 1):
            assert np.allclose(x[i, :, 0].numpy(), part[i : i + L], atol=1e-6)
            assert y[i].item() == pytest.approx(part[i + L - 1 + h], abs=1e-6)
    # Training windows lie inside the training part, at seeded positions.
    x, y = task.train_batch(seed=0, step=3)
    assert x.shape == (64, L, 1)
    windows = np.lib.stride_tricks.sliding_window_view(train, L)[: len(train) - L - h + 1]
    for row, target in zip(x[:, :, 0].numpy(), y.numpy(), strict=True):
        (start,) = np.flatnonzero(np.abs(windows - row).max(axis=1) < 1e-6)
        assert target == pytest.approx(train[start + L - 1 + h], abs=1e-6)
    again = MackeyGlass(seq_len=L, horizon=h, series_length=2000).train_batch(seed=0, step=3)
    assert torch.equal(again.x, x)
    assert not torch.equal(task.train_batch(seed=0, step=4).x, x)
    assert not torch.equal(task.train_batch(seed=1, step=3).x, x)


@pytest.mark.parametrize("horizon", [1, 6, 17])
def test_naive_forecast_baseline_on_real_batches(horizon: int) -> None:
    task = MackeyGlass(seq_len=20, horizon=horizon)
    train, _, _ = standardised_parts(6000)
    # The baseline is the naive forecast's MSE over every training window.
    naive = np.mean((train[19 + horizon :] - train[19 : len(train) - horizon]) ** 2)
    assert task.baseline == pytest.approx(naive, rel=1e-5)
    # On real training batches the naive forecast scores baseline_ratio ~ 1 (40 batches of 64
    # from 4000 windows: within 15%), and on the validation and test parts of the series too.
    ratios = []
    for step in range(40):
        x, y = task.train_batch(seed=0, step=step)
        ratios.append(task.metrics(x[:, -1], y)["mse"])
    assert np.mean(ratios) / task.baseline == pytest.approx(1.0, abs=0.15)
    for x, y in (task.val_set(), task.test_set()):
        metrics = task.metrics(x[:, -1], y)
        assert metrics["baseline_ratio"] == pytest.approx(1.0, abs=0.05)
        assert metrics["baseline_ratio"] == metrics["mse"] / task.baseline
        assert metrics["loss"] == metrics["mse"]


def test_a_window_longer_than_the_series_is_one_line_before_any_work(monkeypatch) -> None:
    def no_work(*args: object) -> None:
        raise AssertionError("integrated before checking the window")

    monkeypatch.setattr(mg, "mackey_glass_series", no_work)
    with pytest.raises(ValueError) as excinfo:
        build_task({"name": "mackey_glass", "seq_len": 900, "horizon": 6})
    message = str(excinfo.value)
    assert "\n" not in message
    assert message.startswith("a window of data.seq_len=900 plus data.horizon=6 is longer")
    assert "900 samples each, 15% of data.series_length=6000" in message
    assert "raise data.series_length to at least 6040" in message
    with pytest.raises(ValueError, match=r"^data\.horizon must be >= 1, got 0$"):
        build_task({"name": "mackey_glass", "horizon": 0})
    with pytest.raises(ValueError, match=r"^data\.seq_len must be >= 1, got -1$"):
        build_task({"name": "mackey_glass", "seq_len": -1})


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
