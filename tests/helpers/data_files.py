"""Small data files for the file tasks, written by the tests themselves (nothing is
downloaded): a CSV time series, arrays of variable-length sequences, a text, MNIST-format IDX
files. ``FILE_TASKS[name](folder)`` writes one task's files and returns the data keys that read
them, for ``build_task`` or as ``data.<key>=<value>`` overrides (``overrides``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqnet.data.idx_format import write_idx

#: A text of a few thousand characters, with a few non-ASCII ones.
TEXT = "".join(
    f"Line {i}: the quick brown fox jumps over the lazy dog; café {i * i % 97}.\n"
    for i in range(60)
)


def series_table(rows: int = 240, groups: int = 1) -> pd.DataFrame:
    """A table of ``groups`` series of ``rows`` rows each: a date, a group, three columns."""
    t = np.arange(rows)
    parts = []
    for g in range(groups):
        parts.append(
            pd.DataFrame(
                {
                    "date": pd.date_range("2024-01-01", periods=rows, freq="h").astype(str),
                    "site": f"s{g}",
                    "temp": 10 + 5 * np.sin(t / 9 + g) + 0.01 * t,
                    "load": 100 + 20 * np.cos(t / 7 - g),
                    "wind": np.linspace(0, 3, rows) ** 2 + g,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def write_timeseries(folder: Path) -> dict[str, Any]:
    path = folder / "series.csv"
    series_table().to_csv(path, index=False)
    return {"path": str(path), "target": "load", "window": 8}


def variable_length_arrays(n: int = 100, steps: int = 10, features: int = 2, seed: int = 0):
    """x (n, steps, features), labels y (n,) in 0..2 and lengths (n,) in 3..steps; the padding
    after each length is zeros."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, steps + 1, n)
    x = rng.normal(size=(n, steps, features)).astype(np.float32)
    x[np.arange(steps)[None, :] >= lengths[:, None]] = 0.0
    y = (x[np.arange(n), lengths - 1, 0] > 0).astype(np.int64) + (lengths > 6)
    return x, y, lengths


def write_arrays(folder: Path) -> dict[str, Any]:
    path = folder / "sequences.npz"
    x, y, lengths = variable_length_arrays()
    np.savez(path, x=x, y=y, lengths=lengths)
    return {"path": str(path)}


def write_text(folder: Path) -> dict[str, Any]:
    path = folder / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    return {"path": str(path)}


def digit_images(n: int, side: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images (n, side, side) uint8 of a bright bar whose row is the label (0..9 mod
    side), and the labels uint8."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 40, (n, side, side)).astype(np.uint8)
    images[np.arange(n), labels % side, :] = 255
    return images, labels


def write_idx_files(folder: Path, train: int = 80, test: int = 20, gz: bool = True) -> Path:
    """The four MNIST file names under ``folder/idx``; the images gzipped (``gz``)."""
    root = folder / "idx"
    root.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    for part, n, seed in (("train", train, 0), ("t10k", test, 1)):
        images, labels = digit_images(n, seed=seed)
        write_idx(root / f"{part}-images-idx3-ubyte{suffix}", images)
        write_idx(root / f"{part}-labels-idx1-ubyte", labels)
    return root


def write_idx_task(folder: Path) -> dict[str, Any]:
    return {"path": str(write_idx_files(folder)), "val_size": 16}


FILE_TASKS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "timeseries": write_timeseries,
    "arrays": write_arrays,
    "text": write_text,
    "idx": write_idx_task,
}


def overrides(keys: dict[str, Any]) -> list[str]:
    """``data.<key>=<value>`` for each key."""
    return [f"data.{k}={v}" for k, v in keys.items()]


def write_all(folder: Path) -> dict[str, dict[str, Any]]:
    """Every file task's files under ``folder/<task>``: the data keys by task."""
    keys = {}
    for name, write in FILE_TASKS.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        keys[name] = write(folder / name)
    return keys
