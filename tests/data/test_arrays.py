"""``data=arrays``: the shape inferred from the arrays (or forced), memory-mapped ``.npy``
folders read as ``.npz`` files are, variable lengths (the masked loss against each sequence run
alone), seeded and given splits, and every bad array as one exact line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers.data_files import variable_length_arrays
from seqnet.data import build_task
from seqnet.data.rows import Rows
from seqnet.data.task import IGNORE_INDEX
from seqnet.errors import DataFileError
from seqnet.models import build_model

N, T = 40, 6
RNG = np.random.default_rng(0)
X = RNG.normal(size=(N, T, 3)).astype(np.float32)


def save(folder: Path, name: str = "data.npz", npy: bool = False, **arrays) -> Path:
    if npy:
        path = folder / name
        path.mkdir()
        for key, value in arrays.items():
            np.save(path / f"{key}.npy", value)
        return path
    np.savez(folder / name, **arrays)
    return folder / name


def task_at(path: Path, **keys):
    return build_task({"name": "arrays", "path": str(path), "batch_size": 4, **keys})


CLASSES, VALUES = ("loss", "accuracy"), ("loss", "mse", "baseline_ratio")
TOKENS = ("loss", "token_accuracy", "sequence_accuracy")
SHAPES = [  # x, y, data.shape, (task shape, output size, metrics)
    (X, RNG.integers(0, 3, N), None, ("many_to_one", 3, CLASSES)),
    (X, RNG.normal(size=N), None, ("many_to_one", 1, VALUES)),
    (X, RNG.normal(size=(N, 2)), None, ("many_to_one", 2, VALUES)),
    (X, RNG.integers(0, 4, (N, T)), None, ("many_to_many", 4, CLASSES)),
    (X, RNG.normal(size=(N, T, 2)), None, ("many_to_many", 2, VALUES)),
    (X[..., 0], RNG.normal(size=(N, T)), None, ("many_to_many", 1, VALUES)),
    (X, RNG.normal(size=(N, T)), "many_to_one", ("many_to_one", T, VALUES)),
    (RNG.integers(0, 5, (N, T)), RNG.integers(0, 5, (N, T)), None, ("many_to_many", 5, CLASSES)),
    (X, RNG.integers(0, 3, (N, 4)), None, ("encoder_decoder", 4, TOKENS)),
    (X, RNG.normal(size=(N, 4, 1)), None, ("encoder_decoder", 1, VALUES)),
]


@pytest.mark.parametrize(("x", "y", "forced", "expected"), SHAPES)
def test_the_shape_follows_the_arrays(tmp_path: Path, x, y, forced, expected) -> None:
    task = task_at(save(tmp_path, x=x, y=y), **({"shape": forced} if forced else {}))
    assert (task.spec.shape, task.spec.output_size, task.metric_names) == expected
    assert task.spec.input_kind == ("tokens" if x.dtype.kind == "i" else "real")


def test_target_sequences_of_ids_get_an_end_token(tmp_path: Path) -> None:
    y = np.array([[2, 0, -100], [1, -1, -1], [0, 1, 2]] * 4)
    task = task_at(save(tmp_path, x=X[:12], y=y), split=[0.5, 0.5])
    assert (task.spec.output_len, task.spec.end_token, task.spec.output_size) == (4, 3, 4)
    expected = {(2, 0, 3, IGNORE_INDEX), (1, 3, IGNORE_INDEX, IGNORE_INDEX), (0, 1, 2, 3)}
    assert {tuple(row) for row in task.val_set().y.tolist()} <= expected


def test_a_memory_mapped_folder_reads_as_the_npz(tmp_path: Path) -> None:
    x, y, lengths = variable_length_arrays()
    npz = task_at(save(tmp_path, x=x, y=y, lengths=lengths))
    npy = task_at(save(tmp_path, "folder", npy=True, x=x, y=y, lengths=lengths))
    assert isinstance(npy.val_set().x, Rows) and isinstance(npz.val_set().x, torch.Tensor)
    assert isinstance(np.load(tmp_path / "folder" / "x.npy", mmap_mode="r"), np.memmap)
    assert torch.equal(npy.val_set().x[:], npz.val_set().x)
    assert torch.equal(npy.val_set().y, npz.val_set().y)
    for step in (0, 7):
        a, b = npy.train_batch(3, step), npz.train_batch(3, step)
        assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert npy.source_files() == [tmp_path / "folder" / f"{n}.npy" for n in ("x", "y", "lengths")]


def test_the_seeded_split_and_a_given_one(tmp_path: Path) -> None:
    x, y, _ = variable_length_arrays(n=50)
    path = save(tmp_path, x=x, y=y)
    task = task_at(path, split=[0.6, 0.2, 0.2])
    rows = [np.flatnonzero((x == part.x[:, None].numpy()).all(axis=(2, 3)).any(axis=0))
            for part in (task._train, task.val_set(), task.test_set())]  # fmt: skip
    assert [len(r) for r in rows] == [30, 10, 10]
    assert sorted(np.concatenate(rows).tolist()) == list(range(50))
    again, other = task_at(path, split=[0.6, 0.2, 0.2]), task_at(path, split_seed=1)
    assert torch.equal(again.val_set().x, task.val_set().x)
    assert not torch.equal(other.val_set().x[:5], task.val_set().x[:5])
    given = save(tmp_path, "given.npz", x=x, y=y, train_index=np.arange(10, 50),
                 val_index=np.array([3, 1, 2]))  # fmt: skip
    task = task_at(given)
    assert torch.equal(task.val_set().x, torch.from_numpy(x[[1, 2, 3]]))
    assert task.test_set() is None and len(task._train.x) == 40


def test_variable_lengths_score_each_sequence_at_its_own_end(tmp_path: Path) -> None:
    """The masked loss equals the loss of each sequence run alone, unpadded: many-to-one at
    its last step, many-to-many over its steps."""
    x, labels, lengths = variable_length_arrays(n=30)
    per_step = (x[..., 1] > 0).astype(np.int64)
    for y, shape in ((labels, "many_to_one"), (per_step, "many_to_many")):
        task = task_at(save(tmp_path, f"{shape}.npz", x=x, y=y, lengths=lengths), split=[0.5, 0.5])
        assert task.spec.shape == "many_to_many"  # read out at every step
        torch.manual_seed(0)
        model = build_model({"name": "gru", "hidden_size": 5}, task.spec).double()
        bx, by = task.train_batch(0, 0)
        index = [int(np.flatnonzero((x == row.numpy()).all(axis=(1, 2)))[0]) for row in bx]
        losses, steps = [], 0
        for i in index:
            alone = model(torch.from_numpy(x[i : i + 1, : lengths[i]]).double())[0][0]
            if shape == "many_to_one":
                losses.append(F.cross_entropy(alone[-1:], torch.tensor([labels[i]])) * 1)
                steps += 1
            else:
                target = torch.from_numpy(per_step[i, : lengths[i]])
                losses.append(F.cross_entropy(alone, target, reduction="sum"))
                steps += int(lengths[i])
        expected = torch.stack(losses).sum() / steps
        loss = task.loss(model(bx.double())[0], by)
        torch.testing.assert_close(loss, expected, rtol=1e-12, atol=1e-12)
        ends = task.sequence_ends(by)
        assert ends.tolist() == [int(lengths[i]) - 1 for i in index]


def error_of(path: Path, **keys) -> str:
    with pytest.raises(DataFileError) as e:
        task_at(path, **keys)
    return str(e.value)


def test_bad_arrays_are_one_line(tmp_path: Path) -> None:
    y = RNG.integers(0, 3, N)
    no_y = save(tmp_path, "no_y.npz", x=X, labels=y)
    assert error_of(no_y) == (
        f"data.path: {no_y}: has no array 'y' (arrays there: labels, x); give an .npz file "
        "holding arrays x and y, or a folder holding x.npy and y.npy"
    )
    short = save(tmp_path, "short.npz", x=X, y=y[:-1])
    assert error_of(short) == (
        f"data.path: {short}: y has 39 targets for the 40 sequences of x; give one target (or "
        "target sequence) per sequence of x"
    )
    bad = X.copy()
    bad[7, 2, 1] = np.nan
    bad[9, 0, 0] = np.inf
    nan = save(tmp_path, "nan", npy=True, x=bad, y=y)
    assert error_of(nan) == (
        f"data.path: {nan / 'x.npy'}: array x.npy has NaN or infinite values: the first at "
        "[7, 2, 1] (2 in all); replace them (padding after a sequence's length too: pad with 0)"
    )
    lengths = np.full(N, 3)
    lengths[5] = T + 1
    long = save(tmp_path, "long.npz", x=X, y=y, lengths=lengths)
    assert error_of(long) == (
        f"data.path: {long}: lengths[5] = 7 is outside 1..6 (the steps of x; 1 such lengths); "
        "give each sequence's number of real steps"
    )
    labels = save(tmp_path, "labels.npz", x=X, y=y)
    assert error_of(labels, classes=2) == (
        f"data.path: {labels}: y has label 2 at [{int(np.flatnonzero(y == 2)[0])}], outside the "
        f"declared classes 0..1 ({int((y == 2).sum())} such labels); set data.classes to at "
        "least 3, or fix the labels"
    )
    pickled = save(tmp_path, "pickled", npy=True, x=X, y=np.array([{"a": 1}] * N, dtype=object))
    assert error_of(pickled).startswith(
        f"data.path: {pickled / 'y.npy'}: cannot be read (ValueError"
    )
    not_npz = tmp_path / "x.npy"
    np.save(not_npz, X)
    assert error_of(not_npz) == (
        f"data.path: {not_npz}: is not an .npz file (by its name); give an .npz file holding "
        "arrays x and y, or a folder holding x.npy and y.npy"
    )
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip")
    assert error_of(garbage) == (
        f"data.path: {garbage}: is not an .npz file (not a zip archive); save it with np.savez"
    )
    sequences = save(tmp_path, "seq.npz", x=X, y=RNG.integers(0, 3, (N, 4)), lengths=np.full(N, 2))
    assert error_of(sequences) == (
        f"data.path: {sequences}: an encoder-decoder reads every input step (its final state "
        "starts the decoder), so lengths cannot apply; pad the inputs at the front instead, or "
        "set data.lengths=false"
    )
    holes = save(tmp_path, "holes.npz", x=X, y=np.tile([[1, -100, 2, -100]], (N, 1)))
    assert error_of(holes) == (
        f"data.path: {holes}: y: target sequence 0 has padding (a negative id) before an id "
        "(40 such sequences); pad each target sequence only after its last id (with -100 or any "
        "negative id)"
    )
    overlap = save(tmp_path, "overlap.npz", x=X, y=y, train_index=np.arange(30),
                   val_index=np.arange(25, 35))  # fmt: skip
    assert error_of(overlap) == (
        f"data.path: {overlap}: val_index repeats a position (within itself or of an earlier "
        "part); give each sequence to one part at most"
    )


def test_rows_are_read_from_the_file_as_numpy_indexes_them(tmp_path: Path) -> None:
    from seqnet.data.rows import Rows, row_file

    array = np.arange(20 * 3 * 2, dtype=np.float32).reshape(20, 3, 2)
    np.save(tmp_path / "x.npy", array)
    mapped = np.load(tmp_path / "x.npy", mmap_mode="r")
    rows = Rows(
        row_file(mapped), np.array([2, 3, 4, 9, 11, 12]), torch.device("cpu"), torch.float32
    )
    for key in (slice(None), slice(1, 4), np.array([5, 0, 1, 1, 3]), torch.tensor([4, 2])):
        expected = array[[2, 3, 4, 9, 11, 12]][
            key.numpy() if isinstance(key, torch.Tensor) else key
        ]
        assert torch.equal(rows[key], torch.from_numpy(expected))
    assert len(rows) == 6 and rows.shape == (6, 3, 2)
