"""``data=idx``: IDX files written here round-trip (pixels and labels, gzipped or not); the
images read pixel by pixel or row by row, permuted or not, as seq_digits reads its digits; the
split; and bad files as one exact line."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.data_files import digit_images, write_idx_files
from seqnet.data import build_task
from seqnet.data.idx_format import read_idx, write_idx
from seqnet.data.pixel_sequences import pixel_permutation
from seqnet.errors import DataFileError


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
def test_idx_files_round_trip(tmp_path: Path, suffix: str, dtype: str) -> None:
    values = (np.arange(2 * 3 * 4) - 5).reshape(2, 3, 4).astype(dtype)
    path = tmp_path / f"a-idx3{suffix}"
    write_idx(path, values)
    data = gzip.decompress(path.read_bytes()) if suffix else path.read_bytes()
    code = {"uint8": 8, "int8": 9, "int16": 11, "int32": 12, "float32": 13, "float64": 14}[dtype]
    assert data[:16] == bytes([0, 0, code, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4])
    back = read_idx(path)
    assert back.dtype == values.dtype and np.array_equal(back, values)


def test_pixels_and_labels_round_trip_through_the_task(tmp_path: Path) -> None:
    root = write_idx_files(tmp_path, gz=False)
    images, labels = digit_images(80)
    test_images, test_labels = digit_images(20, seed=1)
    task = build_task({"name": "idx", "path": str(root), "val_size": 16})
    assert task.spec.input_size == 1 and task.spec.output_size == 10
    x_val, y_val = task.val_set()
    assert x_val.shape == (16, 64, 1)
    assert torch.equal(
        x_val[:, :, 0], torch.from_numpy(images[:16].reshape(16, 64) / 255.0).float()
    )
    assert y_val.tolist() == labels[:16].tolist()
    assert task._train.y.tolist() == labels[16:].tolist()
    assert task.test_set().y.tolist() == test_labels.tolist()
    rows = build_task({"name": "idx", "path": str(root), "val_size": 16, "order": "rows"})
    assert torch.equal(rows.test_set().x, torch.from_numpy(test_images / 255.0).float())
    permuted = build_task({"name": "idx", "path": str(root), "val_size": 16, "permute": True,
                           "permute_seed": 3})  # fmt: skip
    order = pixel_permutation(3, 64)
    assert torch.equal(permuted.val_set().x, x_val[:, order])
    assert sorted(order.tolist()) == list(range(64)) and order.tolist() != list(range(64))
    assert [p.name for p in task.source_files()] == [
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
    ]  # fmt: skip


def error_of(root: Path, **keys) -> str:
    with pytest.raises(DataFileError) as e:
        build_task({"name": "idx", "path": str(root), "val_size": 16, **keys})
    return str(e.value)


def test_bad_idx_files_are_one_line(tmp_path: Path) -> None:
    root = write_idx_files(tmp_path)
    labels = root / "train-labels-idx1-ubyte"
    values = read_idx(labels)
    first = int(np.flatnonzero(values >= 5)[0])
    assert error_of(root, classes=5) == (
        f"data.path: {labels}: label {values[first]} at image {first} is outside the declared "
        f"classes 0..4 (data.classes=5; {int((values >= 5).sum())} such labels); set "
        "data.classes to at least 10, or fix the labels"
    )
    cut = root / "t10k-labels-idx1-ubyte"
    cut.write_bytes(cut.read_bytes()[:-3])
    assert error_of(root) == (
        f"data.path: {cut}: holds 25 bytes, but its header announces (20,) values of 1 byte(s): "
        "28 bytes (cut short or padded?); give the file as published (the MNIST files, gzipped "
        "or not)"
    )
    cut.write_bytes(b"PK\x03\x04 not idx")
    assert error_of(root) == (
        f"data.path: {cut}: is not an IDX file (magic number 0x504b0304); give the file as "
        "published (the MNIST files, gzipped or not)"
    )
    cut.unlink()
    assert error_of(root) == (
        f"data.path: {root}: has no t10k-labels-idx1-ubyte (or t10k-labels-idx1-ubyte.gz); it "
        "holds: t10k-images-idx3-ubyte.gz, train-images-idx3-ubyte.gz, train-labels-idx1-ubyte; "
        "give a folder holding the four MNIST files (train-images-idx3-ubyte and friends), under "
        "their published names"
    )
    write_idx_files(tmp_path)  # the four files again
    broken = root / "train-images-idx3-ubyte.gz"
    broken.write_bytes(b"\x1f\x8b garbage")
    assert error_of(root).startswith(f"data.path: {broken}: cannot be read (")
