"""13: making a training batch against a training step for each file task, on files written
here (into a temporary folder, deleted afterwards), each task with the reference LSTM (hidden
128) at its default settings otherwise, timed as measurement 6 times the built-in tasks
(target: batch <= 0.05x of a step):

- ``timeseries``: a CSV of 20,000 rows, 4 columns, window 64;
- ``arrays`` (npy): a folder of memory-mapped ``.npy`` files, 4,096 sequences of 100 steps of 8
  values with their lengths (batches are read from the files, padded targets made per batch);
- ``arrays`` (npz): the same arrays as one ``.npz`` file (held in memory);
- ``text``: 465k characters (Python's ``pydoc_data.topics``) as a UTF-8 file;
- ``idx``: 2,000 MNIST-sized images (28 x 28) and labels as gzipped IDX files, read pixel by
  pixel (784 steps).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from benchmarks.data import bench_task
from benchmarks.harness import Result
from benchmarks.workload import Settings

LABEL = "13"


def write_files(root: Path) -> dict[str, list[str]]:
    """The files of every measured task under ``root``: the data overrides that read them."""
    import pandas as pd

    from seqnet.data.idx_format import write_idx

    rng = np.random.default_rng(0)
    t = np.arange(20_000)
    table = pd.DataFrame({"a": np.sin(t / 50), "b": np.cos(t / 30), "c": rng.normal(size=len(t)),
                          "target": np.sin(t / 70) + 0.1 * rng.normal(size=len(t))})  # fmt: skip
    table.to_csv(root / "series.csv", index=False)
    n, steps = 4096, 100
    lengths = rng.integers(20, steps + 1, n)
    x = rng.normal(size=(n, steps, 8)).astype(np.float32)
    y = rng.integers(0, 10, n)
    (root / "npy").mkdir()
    for name, array in (("x", x), ("y", y), ("lengths", lengths)):
        np.save(root / "npy" / f"{name}.npy", array)
    np.savez(root / "arrays.npz", x=x, y=y, lengths=lengths)
    from pydoc_data.topics import topics

    (root / "text.txt").write_text("".join(topics[k] for k in sorted(topics)), encoding="utf-8")
    (root / "idx").mkdir()
    for part, count in (("train", 2000), ("t10k", 500)):
        images = rng.integers(0, 256, (count, 28, 28)).astype(np.uint8)
        write_idx(root / "idx" / f"{part}-images-idx3-ubyte.gz", images)
        write_idx(
            root / "idx" / f"{part}-labels-idx1-ubyte.gz",
            rng.integers(0, 10, count).astype(np.uint8),
        )
    return {
        "timeseries": [f"data.path={root / 'series.csv'}", "data.target=target", "data.window=64"],
        "arrays npy": [f"data.path={root / 'npy'}"],
        "arrays npz": [f"data.path={root / 'arrays.npz'}"],
        "text": [f"data.path={root / 'text.txt'}"],
        "idx": [f"data.path={root / 'idx'}", "data.val_size=500"],
    }


def bench_files(s: Settings, device: torch.device) -> list[Result]:
    """13. One row per file task (two for arrays: memory-mapped and in memory)."""
    results = []
    with tempfile.TemporaryDirectory(prefix="seqnet-bench-files-") as tmp:
        for label, data in write_files(Path(tmp)).items():
            task = label.split()[0]
            result = bench_task(task, s, device, data=data, label=LABEL)
            result.name = f"{LABEL} {label}: training batch vs training step"
            results.append(result)
    return results
