"""``data=timeseries``: forecasting from a user's CSV or Parquet file, many-to-one regression.

One row per time point, in time order (``seqnet.data.tables`` reads and checks the file). An
input is a window of ``data.window`` consecutive rows of the ``data.columns``; the target is the
value of each ``data.target`` column ``data.horizon`` rows after the window's last row. Windows
start every ``data.stride`` rows. Each series (one per value of ``data.group``, else the whole
file) is cut in time order into training, validation and test parts (``data.split``), and no
window crosses from one part or series to another. Training batch k draws its windows among the
training windows from ``stream_seed(seed, k)``; validation and test are every window of theirs.

With ``data.standardize=true`` inputs and targets are scaled by the training part's mean and
standard deviation (a constant column only centred); the loss is the MSE in those units. The
statistics are kept in every checkpoint (``saved_state``): ``seqnet.forecast`` predicts from raw
windows with it. ``mse`` and ``mae`` are in the targets' original units; ``baseline_ratio``
divides ``mse`` by the MSE of the naive last-value forecast (each target's value at the
window's last row) over the training windows, as ``mackey_glass`` does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from omegaconf import MISSING
from torch import Generator, Tensor

from seqnet.data.files import FileConfig, data_path, file_error, split_fractions, split_sizes
from seqnet.data.seeds import stream_seed
from seqnet.data.tables import (
    NanPolicy,
    check_columns,
    column_list,
    handle_missing,
    numeric_columns,
    read_table,
    rows_shown,
)
from seqnet.data.task import Batch, Task, TaskSpec, register_task
from seqnet.registry import plain

EXPECT = "a CSV or Parquet file with one row per time point"
PARTS = ("training", "validation", "test")


@dataclass
class TimeSeriesConfig(FileConfig):
    name: str = "timeseries"
    # The input columns (a name or a list); null: every numeric column but data.group.
    columns: Any = None
    # The column(s) to forecast: a name or a list of names.
    target: Any = MISSING
    # The input: this many consecutive rows.
    window: int = 32
    # Forecast the target(s) this many rows after the window's last row.
    horizon: int = 1
    # Windows start every stride rows (in every part).
    stride: int = 1
    # Fractions of each series, in time order: train, validation[, test].
    split: list[float] = field(default_factory=lambda: [0.7, 0.15, 0.15])
    # Scale inputs and targets by the training part's mean and standard deviation.
    standardize: bool = True
    # A column whose values separate independent series; null: the file is one series.
    group: str | None = None
    # NaN or infinite values: error (stop, saying where), drop (leave the rows out), ffill.
    nan_policy: NanPolicy = NanPolicy.error


class Windows:
    """The windows of a part, gathered when sliced (``x[i:j]``: (j-i, window, features)), so
    that a validation set of overlapping windows is not held ``window`` times over."""

    def __init__(self, series: Tensor, starts: Tensor, window: int) -> None:
        self.series, self.starts = series, starts
        self._offsets = torch.arange(window, device=series.device)
        self.shape = (len(starts), window, series.shape[1])

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, key: slice | Tensor) -> Tensor:
        return self.series[self.starts[key][:, None] + self._offsets]


@register_task("timeseries", config=TimeSeriesConfig)
class TimeSeries(Task):
    metric_names = ("loss", "mse", "mae", "baseline_ratio")

    def __init__(
        self, config: Any = None, /, *, device: torch.device | str = "cpu", **fields: Any
    ) -> None:
        super().__init__(config, device=device, **fields)
        c = self.config
        for key in ("window", "horizon", "stride"):
            if getattr(c, key) < 1:
                raise ValueError(f"data.{key} must be >= 1, got {getattr(c, key)}")
        self.window, self.horizon, self.stride = c.window, c.horizon, c.stride
        fractions = split_fractions(c.split)
        self.path = data_path(c.path, EXPECT, folder=False)
        table = read_table(self.path)
        targets = column_list(c.target, "data.target")
        assert targets is not None  # MISSING: Hydra names the key before this
        group = c.group
        if group is not None and group not in [str(k) for k in table.columns]:
            columns = ", ".join(str(k) for k in table.columns)
            raise file_error(self.path, f"has no column {group!r} (data.group)", columns)
        inputs = column_list(c.columns, "data.columns") or numeric_columns(table, [group])
        check_columns(table, targets, "data.target", self.path)
        check_columns(table, inputs, "data.columns", self.path)
        used = list(dict.fromkeys(inputs + targets))
        table = handle_missing(table, used, group, plain(c.nan_policy), self.path)
        self.columns, self.targets = inputs, targets

        parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {p: [] for p in PARTS}
        for name, rows in self._series(table, group):
            sizes = split_sizes(len(rows), fractions)[: len(fractions)]
            begins = np.cumsum([0, *sizes[:-1]])
            for part, begin, size in zip(PARTS, begins, sizes, strict=False):
                self._check_long_enough(name, part, size, len(rows))
                chunk = rows.iloc[begin : begin + size]
                parts[part].append((chunk[inputs].to_numpy(np.float64),
                                    chunk[targets].to_numpy(np.float64)))  # fmt: skip

        train_x = np.concatenate([x for x, _ in parts["training"]])
        train_y = np.concatenate([y for _, y in parts["training"]])
        self.input_mean, self.input_std = statistics(train_x, c.standardize)
        self.target_mean, self.target_std = statistics(train_y, c.standardize)
        built = {part: self._part(pieces) for part, pieces in parts.items() if pieces}
        self._train, self._val = built["training"], built["validation"]
        self._test = built.get("test")
        self.spec = TaskSpec(len(inputs), len(targets), input_kind="real", output_mode="last")
        self._generator = Generator(device=self.device)
        #: MSE of the naive last-value forecast over the training windows, in original units.
        truth, last = self.original(self._train[1]), self.original(self._train[2])
        self.baseline = float(torch.mean((truth - last) ** 2))
        if self.baseline == 0:
            raise file_error(
                self.path,
                f"the last-value forecast of {', '.join(targets)} is exact on every training "
                "window (the target does not change over data.horizon rows)",
                "choose a target that varies, or a longer data.horizon",
            )

    def _series(self, table: pd.DataFrame, group: str | None) -> list[tuple[str, pd.DataFrame]]:
        """(name, rows) of each series, in the order of their first row."""
        if group is None:
            return [("the series", table)]
        missing = np.flatnonzero(table[group].isna().to_numpy())
        if len(missing):
            raise file_error(
                self.path,
                f"column {group!r} (data.group) has no value at {rows_shown(missing)}",
                "give every row its series",
            )
        return [(f"series {key!r}", rows) for key, rows in table.groupby(group, sort=False)]

    def _check_long_enough(self, name: str, part: str, size: int, rows: int) -> None:
        if size >= self.window + self.horizon:
            return
        raise file_error(
            self.path,
            f"a window of data.window={self.window} rows plus data.horizon={self.horizon} is "
            f"longer than the {part} part of {name} ({size} of its {rows} rows)",
            "lower data.window or data.horizon, give that part a larger data.split share, or "
            "give longer series",
        )

    def _part(self, pieces: list[tuple[np.ndarray, np.ndarray]]) -> tuple[Windows, Tensor, Tensor]:
        """A part's windows (inputs), targets and last values (standardised), on the device."""
        x = np.concatenate([p[0] for p in pieces])
        y = np.concatenate([p[1] for p in pieces])
        starts, offset = [], 0
        for inputs, _ in pieces:
            count = (len(inputs) - self.window - self.horizon) // self.stride + 1
            starts.append(offset + self.stride * np.arange(count))
            offset += len(inputs)
        at = torch.from_numpy(np.concatenate(starts)).to(self.device)
        inputs = self._tensor((x - self.input_mean) / self.input_std)
        targets = self._tensor((y - self.target_mean) / self.target_std)
        end = at + self.window - 1
        return Windows(inputs, at, self.window), targets[end + self.horizon], targets[end]

    def _tensor(self, values: np.ndarray) -> Tensor:
        return torch.from_numpy(values.astype(np.float32)).to(self.device)

    def original(self, standardised: Tensor) -> Tensor:
        """Targets (n, targets) in their original units, float64."""
        mean = torch.as_tensor(self.target_mean, device=standardised.device)
        std = torch.as_tensor(self.target_std, device=standardised.device)
        return standardised.double() * std + mean

    def train_batch(self, seed: int, step: int) -> Batch:
        self._generator.manual_seed(stream_seed(seed, step))
        windows, targets, _ = self._train
        pick = torch.randint(
            0, len(windows), (self.batch_size,), generator=self._generator, device=self.device
        )
        return Batch(windows[pick], targets[pick])

    def val_set(self) -> Batch:
        return Batch(self._val[0], self._val[1])

    def test_set(self) -> Batch | None:
        return None if self._test is None else Batch(self._test[0], self._test[1])

    def loss(self, pred: Tensor, y: Tensor) -> Tensor:
        return torch.mean((pred - y) ** 2)

    def sequence_loss(self, pred: Tensor, y: Tensor, last_only: bool = True) -> Tensor:
        return ((pred - y) ** 2).sum(dim=-1)  # one output per window: last_only changes nothing

    def metrics(self, pred: Tensor, y: Tensor) -> dict[str, float]:
        loss = float(torch.mean((pred.double() - y.double()) ** 2))
        error = self.original(pred) - self.original(y)
        mse = float(torch.mean(error**2))
        return {
            "loss": loss,
            "mse": mse,
            "mae": float(torch.mean(error.abs())),
            "baseline_ratio": mse / self.baseline,
        }

    def source_files(self) -> list[Path]:
        return [self.path]

    def saved_state(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "target": self.targets,
            "window": self.window,
            "input_mean": self.input_mean.tolist(),
            "input_std": self.input_std.tolist(),
            "target_mean": self.target_mean.tolist(),
            "target_std": self.target_std.tolist(),
        }


def statistics(values: np.ndarray, standardize: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and standard deviation (1 where a column is constant); (0, 1) without
    standardising."""
    if not standardize:
        return np.zeros(values.shape[1]), np.ones(values.shape[1])
    std = values.std(axis=0)
    return values.mean(axis=0), np.where(std > 0, std, 1.0)
