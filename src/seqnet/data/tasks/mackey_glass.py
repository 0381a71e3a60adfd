"""Forecasting the Mackey-Glass series (Mackey and Glass, 1977), many-to-one regression.

    dx/dt = beta * x(t - tau) / (1 + x(t - tau)^10) - gamma * x(t),  beta=0.2, gamma=0.1, tau=17

integrated once (classic 4th-order Runge-Kutta, step 0.1, constant history x = 1.2, the first
``TRANSIENT`` time units dropped), sampled once per time unit and cached (``seqnet.data.cache``).
The series is cut into contiguous parts: training (the first 70%), validation (15%) and test
(the last 15%), standardised by the training part's mean and standard deviation. An input is a
window of ``data.seq_len`` samples; the target is the sample ``data.horizon`` steps after its
last one. Training windows start anywhere in the training part (batch k from
``stream_seed(seed, k)``); the validation and test sets are every window of their parts.

``mse`` is in units of the standardised series (a normalised MSE); ``baseline_ratio`` divides it
by the mean squared error of the naive last-value forecast (predict the window's last sample)
over the training part, a constant of the series and horizon (as MASE scales by the in-sample
naive error), so 1 means as good as the naive forecast on the training data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Generator, Tensor

from seqnet.data.cache import cached_arrays
from seqnet.data.regression import ScalarRegression
from seqnet.data.seeds import stream_seed
from seqnet.data.task import Batch, DataConfig, TaskSpec, register_task

BETA, GAMMA, POWER, X0 = 0.2, 0.1, 10, 1.2
DT = 0.1  # integration step, in time units; one sample per time unit
TRANSIENT = 500  # time units dropped at the start, while the trajectory settles on the attractor
SPLITS = (0.7, 0.15, 0.15)  # train, val, test: contiguous parts of the series


def integrate_mackey_glass(length: int, tau: int) -> np.ndarray:
    """``length`` samples, one per time unit, after ``TRANSIENT`` units (float64).

    RK4 on a delay equation: the delayed value at the half step is the mean of the two stored
    neighbours (linear interpolation); the history before t=0 is the constant ``X0``.
    """
    per_unit = round(1 / DT)
    delay = tau * per_unit  # tau in integration steps
    steps = (TRANSIENT + length) * per_unit
    x = [X0] * (delay + 1) + [0.0] * steps  # x[delay] is t=0
    h = DT

    def f(now: float, lagged: float) -> float:
        return BETA * lagged / (1.0 + lagged**POWER) - GAMMA * now

    for i in range(delay, delay + steps):
        lag0, lag1 = x[i - delay], x[i - delay + 1]
        lag_half = 0.5 * (lag0 + lag1)
        now = x[i]
        k1 = f(now, lag0)
        k2 = f(now + 0.5 * h * k1, lag_half)
        k3 = f(now + 0.5 * h * k2, lag_half)
        k4 = f(now + h * k3, lag1)
        x[i + 1] = now + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    samples = np.asarray(x[delay::per_unit])  # t = 0, 1, 2, ...
    return samples[TRANSIENT : TRANSIENT + length]


def mackey_glass_series(length: int, tau: int) -> np.ndarray:
    """The series from the cache, or integrated (a second or two) and cached."""
    key = {"equation": "mackey_glass", "length": length, "tau": tau, "beta": BETA,
           "gamma": GAMMA, "power": POWER, "x0": X0, "dt": DT, "transient": TRANSIENT}  # fmt: skip
    arrays = cached_arrays("mackey_glass", key, lambda: {"x": integrate_mackey_glass(length, tau)})
    return arrays["x"]


@dataclass
class MackeyGlassConfig(DataConfig):
    name: str = "mackey_glass"
    # The input window: this many consecutive samples.
    seq_len: int = 64
    # Predict the sample this many steps after the window's last one.
    horizon: int = 6
    # The delay of the equation: 17 gives mild chaos (the classic benchmark), 30 stronger.
    tau: int = 17
    # Samples (one per time unit) in the whole series, split 70/15/15 into train/val/test.
    series_length: int = 6000


@register_task("mackey_glass", config=MackeyGlassConfig)
class MackeyGlass(ScalarRegression):
    spec = TaskSpec(input_size=1, output_size=1, input_kind="real", output_mode="last")

    def __init__(
        self, config: Any = None, /, *, device: torch.device | str = "cpu", **fields: Any
    ) -> None:
        super().__init__(config, device=device, **fields)
        c = self.config
        seq_len, horizon, tau, series_length = c.seq_len, c.horizon, c.tau, c.series_length
        for key, value in (("seq_len", seq_len), ("horizon", horizon), ("tau", tau)):
            if value < 1:
                raise ValueError(f"data.{key} must be >= 1, got {value}")
        shortest = min(int(series_length * share) for share in SPLITS)
        if seq_len + horizon > shortest:
            raise ValueError(
                f"a window of data.seq_len={seq_len} plus data.horizon={horizon} is longer than "
                f"the validation and test parts of the series ({shortest} samples each, 15% of "
                f"data.series_length={series_length}): lower data.seq_len or data.horizon, or "
                f"raise data.series_length to at least {-(-(seq_len + horizon) * 100 // 15)}"
            )
        self.seq_len, self.horizon, self.tau, self.series_length = (
            seq_len, horizon, tau, series_length,
        )  # fmt: skip

        raw = mackey_glass_series(series_length, tau)
        ends = np.cumsum([int(series_length * share) for share in SPLITS])
        parts = np.split(raw, ends[:-1])[:3]
        mean, std = parts[0].mean(), parts[0].std()
        train, val, test = (torch.tensor((p - mean) / std, dtype=torch.float32) for p in parts)
        self._train = train.to(self.device)
        self._offsets = torch.arange(seq_len, device=self.device)
        self._val, self._test = self.windows(val), self.windows(test)
        self._generator = Generator(device=self.device)
        last = self._train[seq_len - 1 : len(train) - horizon].double()
        target = self._train[seq_len - 1 + horizon :].double()
        #: MSE of the naive last-value forecast over the training part: baseline_ratio's divisor.
        self.baseline = float(torch.mean((target - last) ** 2))

    def windows(self, series: Tensor, starts: Tensor | None = None) -> Batch:
        """Windows of ``series`` starting at ``starts`` (all of them by default), vectorised:
        x (n, seq_len, 1), y (n,)."""
        series = series.to(self.device)
        if starts is None:
            starts = torch.arange(len(series) - self.seq_len - self.horizon + 1, device=self.device)
        x = series[starts[:, None] + self._offsets]
        y = series[starts + self.seq_len - 1 + self.horizon]
        return Batch(x.unsqueeze(-1), y)

    def train_batch(self, seed: int, step: int) -> Batch:
        self._generator.manual_seed(stream_seed(seed, step))
        count = len(self._train) - self.seq_len - self.horizon + 1
        starts = torch.randint(
            0, count, (self.batch_size,), generator=self._generator, device=self.device
        )
        return self.windows(self._train, starts)

    def val_set(self) -> Batch:
        return self._val

    def test_set(self) -> Batch:
        return self._test
