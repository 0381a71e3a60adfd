"""``data=timeseries``: windows, targets, splits and statistics against a reference computed
here from the table with pandas, groups and strides, metrics in original units, CSV and Parquet
alike, missing values by ``data.nan_policy``, and every bad file as one exact line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from helpers.data_files import series_table
from seqnet.data import build_task
from seqnet.errors import DataFileError

COLUMNS = ["temp", "load", "wind"]


def task_for(path: Path, **keys):
    return build_task({"name": "timeseries", "path": str(path), "target": "load", "window": 8,
                       "batch_size": 4, **keys})  # fmt: skip


@pytest.fixture
def csv(tmp_path: Path) -> Path:
    path = tmp_path / "series.csv"
    series_table().to_csv(path, index=False)
    return path


def reference_windows(table: pd.DataFrame, begin: int, size: int, window: int, stride: int = 1):
    """Every window of rows [begin, begin + size) of the table: raw inputs and the target."""
    xs, ys, lasts = [], [], []
    for s in range(begin, begin + size - window, stride):
        xs.append(table[COLUMNS].to_numpy()[s : s + window])
        ys.append(table["load"].to_numpy()[s + window])
        lasts.append(table["load"].to_numpy()[s + window - 1])
    return np.array(xs), np.array(ys), np.array(lasts)


def test_windows_targets_and_statistics_match_the_table(csv: Path) -> None:
    table = pd.read_csv(csv)
    task = task_for(csv)
    assert (task.columns, task.targets, task.spec.input_size, task.spec.output_size) == (
        COLUMNS, ["load"], 3, 1,
    )  # fmt: skip
    train = table.iloc[:168]  # 70% of 240 rows; validation 36, test 36
    np.testing.assert_allclose(task.input_mean, train[COLUMNS].mean(), rtol=1e-12)
    np.testing.assert_allclose(task.input_std, train[COLUMNS].std(ddof=0), rtol=1e-12)
    for batch, begin, size in ((task.val_set(), 168, 36), (task.test_set(), 204, 36)):
        x, y, _ = reference_windows(table, begin, size, 8)
        assert len(batch.x) == len(x) == size - 8
        scaled = (x - task.input_mean) / task.input_std
        torch.testing.assert_close(batch.x[:], torch.tensor(scaled, dtype=torch.float32))
        raw = task.original(batch.y)[:, 0].numpy()
        np.testing.assert_allclose(raw, y, rtol=1e-6)
    _, truth, last = reference_windows(table, 0, 168, 8)
    assert task.baseline == pytest.approx(np.mean((truth - last) ** 2), rel=1e-6)


def test_metrics_are_in_original_units(csv: Path) -> None:
    table = pd.read_csv(csv)
    task = task_for(csv)
    _, truth, _ = reference_windows(table, 168, 36, 8)
    pred = torch.linspace(-1, 1, len(truth)).unsqueeze(1)
    predicted = pred[:, 0].double().numpy() * task.target_std[0] + task.target_mean[0]
    metrics = task.metrics(pred, task.val_set().y)
    mse = np.mean((predicted - truth) ** 2)
    assert metrics["mse"] == pytest.approx(mse, rel=1e-6)
    assert metrics["mae"] == pytest.approx(np.mean(np.abs(predicted - truth)), rel=1e-6)
    assert metrics["baseline_ratio"] == metrics["mse"] / task.baseline
    standardised = (truth - task.target_mean[0]) / task.target_std[0]
    assert metrics["loss"] == pytest.approx(np.mean((pred[:, 0].numpy() - standardised) ** 2),
                                            rel=1e-5)  # fmt: skip


def test_groups_are_split_apart_and_windows_never_cross(tmp_path: Path) -> None:
    path = tmp_path / "two.csv"
    table = series_table(rows=100, groups=2)
    table.to_csv(path, index=False)
    task = task_for(path, group="site", stride=3, horizon=2, columns=["temp", "load"])
    assert task.columns == ["temp", "load"]
    expected = []
    for g in (0, 1):  # each series: 70 / 15 / 15 rows; the validation part starts at row 70
        rows = table[table.site == f"s{g}"].reset_index(drop=True)
        for s in range(70, 85 - 8 - 2 + 1, 3):
            expected.append(rows["load"].to_numpy()[s + 8 - 1 + 2])
    np.testing.assert_allclose(task.original(task.val_set().y)[:, 0].numpy(), expected, rtol=1e-6)
    batch = task.train_batch(0, 0)
    assert torch.equal(batch.x, task.train_batch(0, 0).x)  # a function of (seed, step)
    assert not torch.equal(batch.x, task.train_batch(0, 1).x)


def test_csv_and_parquet_read_the_same(csv: Path, tmp_path: Path) -> None:
    parquet = tmp_path / "series.parquet"
    pd.read_csv(csv).to_parquet(parquet)
    a, b = task_for(csv), task_for(parquet)
    assert torch.equal(a.val_set().x[:], b.val_set().x[:])
    assert torch.equal(a.train_batch(1, 2).y, b.train_batch(1, 2).y)
    assert a.saved_state() == b.saved_state()


def test_without_standardising_the_values_are_raw(csv: Path) -> None:
    task = task_for(csv, standardize=False)
    assert task.saved_state()["input_mean"] == [0.0, 0.0, 0.0]
    assert float(task.val_set().y[0, 0]) == pytest.approx(pd.read_csv(csv)["load"][176], rel=1e-6)


@pytest.mark.parametrize("policy", ["drop", "ffill"])
def test_nan_policies(tmp_path: Path, policy: str) -> None:
    table = series_table()
    table.loc[[5, 6, 100], "temp"] = np.nan
    table.loc[50, "wind"] = np.inf
    path = tmp_path / "gaps.csv"
    table.to_csv(path, index=False)
    task = task_for(path, nan_policy=policy)
    clean = table.replace(np.inf, np.nan)
    clean = clean.dropna() if policy == "drop" else clean.ffill()
    train = clean.iloc[: round(0.7 * len(clean))]
    np.testing.assert_allclose(task.input_mean, train[COLUMNS].mean(), rtol=1e-12)


def error_of(path: Path, **keys) -> str:
    with pytest.raises(DataFileError) as e:
        task_for(path, **keys)
    return str(e.value)


def test_missing_values_stop_by_default_saying_where(tmp_path: Path) -> None:
    table = series_table()
    table.loc[[5, 6, 100, 101, 102, 103], "load"] = np.nan
    table.loc[9, "wind"] = np.inf
    path = tmp_path / "gaps.csv"
    table.to_csv(path, index=False)
    assert error_of(path) == (
        f"data.path: {path}: column 'load' has NaN or infinite values at rows 5, 6, 100, 101, "
        "102, ... (6 in all) (numbered from 0 after the header) (1 more in other columns); fill "
        "or remove them, or set data.nan_policy=drop (leave those rows out) or "
        "data.nan_policy=ffill (carry the last value forward)"
    )
    table = series_table()
    table.loc[0, "load"] = np.nan
    table.to_csv(path, index=False)
    assert error_of(path, nan_policy="ffill") == (
        f"data.path: {path}: data.nan_policy=ffill has no earlier value to carry forward at row "
        "0 (the first rows of a series); fill them, or set data.nan_policy=drop"
    )


def test_bad_files_and_columns_are_one_line(tmp_path: Path, csv: Path) -> None:
    listed = "its columns are: date, site, temp, load, wind"
    assert (
        error_of(csv, target="lod")
        == f"data.path: {csv}: has no column 'lod' (data.target); {listed}"
    )
    assert error_of(csv, columns=["temp", "date"]) == (
        f"data.path: {csv}: column 'date' (data.columns) is not numeric (str); choose numeric "
        f"columns; {listed}"
    )
    assert error_of(csv, window=36) == (
        f"data.path: {csv}: a window of data.window=36 rows plus data.horizon=1 is longer than "
        "the validation part of the series (36 of its 240 rows); lower data.window or "
        "data.horizon, give that part a larger data.split share, or give longer series"
    )
    missing = tmp_path / "nope.csv"
    assert error_of(missing) == (
        f"data.path={missing} does not exist; give a CSV or Parquet file with one row per time "
        "point (a relative path is read from the folder seqnet-train runs in)"
    )
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert error_of(empty) == (
        f"data.path: {empty}: is empty; give a file with a header row and data rows"
    )
    header = tmp_path / "header.csv"
    header.write_text("temp,load\n")
    assert (
        error_of(header) == f"data.path: {header}: has no data rows (columns: temp, load); fill it"
    )
    sheet = tmp_path / "series.xlsx"
    sheet.write_bytes(b"PK")
    assert error_of(sheet) == (
        f"data.path: {sheet}: is not a CSV or Parquet file (by its name); save it as .csv (or "
        ".csv.gz) or .parquet"
    )
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    message = error_of(broken)
    assert message.startswith(f"data.path: {broken}: cannot be read as PARQUET (")
    assert message.endswith("); check that it is a parquet file")
