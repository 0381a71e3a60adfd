"""``data=arrays``: sequences from a user's NumPy arrays (``seqnet.data.array_files``).

Inputs ``x``: (N, T, F) values, (N, T) values (one feature), or (N, T) integer token ids. The
shape of the task follows from the targets ``y`` (``data.shape`` forces one):

================================ ===================================== ====================
``y``                            task                                   loss, metrics
================================ ===================================== ====================
(N,) integers / (N,) or (N, D)   many_to_one: a label / D values per    cross-entropy and
values with D != T               sequence                               accuracy / MSE
(N, T) integers / (N, T[, D])    many_to_many, aligned: one per step    (``baseline_ratio``:
values                                                                  over predicting the
(N, L) integers (L != T),        encoder_decoder: a target sequence;    training mean);
negative after the last id /     an end token is added after each       token and sequence
(N, L, D) values                 sequence of ids                        accuracy
================================ ===================================== ====================

``lengths`` (N,) gives each sequence's length (steps after it are padding, of any finite
value): the loss and the metrics count only the real steps, and gradient profiles are taken at
each sequence's own end. A many-to-one task then reads out at every step and scores the output
at each sequence's last step (``seqnet.data.targets``).

Split: ``train_index``, ``val_index`` (and ``test_index``) arrays in the data give it; else a
permutation drawn from ``data.split_seed`` cuts the sequences by ``data.split``. Each part is
kept in file order. A folder of ``.npy`` files is memory-mapped: training batches, validation
and test are read from the files as needed (``seqnet.data.rows``); targets and lengths are read
whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from seqnet.data.array_files import EXPECT, ArrayFiles, check_finite, check_numeric, integer_range
from seqnet.data.array_targets import mean_baseline, prepare_targets
from seqnet.data.files import FileConfig, data_path, file_error, split_fractions, split_sizes
from seqnet.data.rows import Rows
from seqnet.data.seeds import stable_hash
from seqnet.data.splits import FixedSplits
from seqnet.data.targets import ValueTargets, pad_targets
from seqnet.data.task import Batch, TaskSpec, register_task
from seqnet.registry import plain

_SPLIT_DOMAIN = 0x6172_7261_7973  # "arrays": the hash domain of the seeded split


class ArrayShape(Enum):
    many_to_one = "many_to_one"
    many_to_many = "many_to_many"
    encoder_decoder = "encoder_decoder"


@dataclass
class ArraysConfig(FileConfig):
    name: str = "arrays"
    # many_to_one | many_to_many | encoder_decoder; null: inferred from the shapes of x and y.
    shape: ArrayShape | None = None
    # Use the data's lengths array when it has one; false: every sequence is T steps long.
    lengths: bool = True
    # Fractions for train, validation[, test], drawn by a permutation from split_seed (index
    # arrays train_index, val_index[, test_index] in the data replace both).
    split: list[float] = field(default_factory=lambda: [0.8, 0.1, 0.1])
    split_seed: int = 0
    # Integer targets: the number of classes (null: the largest label + 1); others are refused.
    classes: int | None = None


def infer_shape(y: np.ndarray, steps: int) -> str:
    """The shape that the targets' array implies (the module docstring's table)."""
    if y.ndim == 1:
        return "many_to_one"
    if y.ndim == 2 and y.shape[1] != steps:
        return "encoder_decoder" if y.dtype.kind in "iu" else "many_to_one"
    return "many_to_many" if y.shape[1] == steps else "encoder_decoder"


@register_task("arrays", config=ArraysConfig)
class ArraysTask(FixedSplits):
    metric_names = (
        "loss",
        "accuracy",
        "mse",
        "baseline_ratio",
        "token_accuracy",
        "sequence_accuracy",
    )

    def __init__(
        self, config: Any = None, /, *, device: torch.device | str = "cpu", **fields: Any
    ) -> None:
        super().__init__(config, device=device, **fields)
        c = self.config
        self.data = files = ArrayFiles(data_path(c.path, EXPECT))
        x, y = files.arrays["x"], files.arrays["y"]
        for name in files.arrays:
            check_numeric(files, name)
        tokens = x.ndim == 2 and x.dtype.kind in "iu"
        if x.ndim not in (2, 3) or len(x) == 0 or x.shape[1] == 0:
            raise file_error(
                files.where("x"),
                f"x has shape {x.shape}",
                "give x as (N, T, F) values or (N, T) token ids, N and T at least 1",
            )
        n, steps = x.shape[:2]
        if len(y) != n:
            raise file_error(
                files.where("y"),
                f"y has {len(y)} targets for the {n} sequences of x",
                "give one target (or target sequence) per sequence of x",
            )
        check_finite(files, "x")
        check_finite(files, "y")
        shape = plain(c.shape) or infer_shape(y, steps)
        if shape not in ArrayShape.__members__:
            raise ValueError(f"data.shape must be one of {list(ArrayShape.__members__)}")
        self.steps, self.shape = steps, shape
        lengths = self._lengths(files.get("lengths"), n, steps) if c.lengths else None
        if lengths is not None and shape == "encoder_decoder":
            raise file_error(
                files.where("lengths"),
                "an encoder-decoder reads every input step (its final state starts the "
                "decoder), so lengths cannot apply",
                "pad the inputs at the front instead, or set data.lengths=false",
            )
        parts = self._split(n, c)
        ready = prepare_targets(files, np.asarray(y), shape, steps, c.classes)
        if tokens:
            low, high = integer_range(files, "x")
            if low < 0:
                raise file_error(files.where("x"), f"x has token id {low}", "use ids >= 0")
            input_size, dtype = high + 1, torch.int64
        else:
            input_size, dtype = 1 if x.ndim == 2 else x.shape[2], torch.float32
            x = x.reshape(n, steps, -1)  # (N, T) values: one feature per step
        self.targets, self.metric_names = ready.kind, ready.kind.metric_names
        self._per_step = shape == "many_to_many"
        self._train_lengths = None if lengths is None else lengths[parts["train"]].to(self.device)
        batches = {}
        for part, index in parts.items():
            part_y = ready.y[index].to(self.device)
            if part != "train" and lengths is not None:  # held-out targets padded once
                part_y = self.pad(part_y, lengths[index].to(self.device))
            batches[part] = Batch(self._inputs(x, index, dtype), part_y)
        self.spec = TaskSpec(
            input_size,
            ready.output_size,
            input_kind="tokens" if tokens else "real",
            # Variable lengths: a read-out at every step, scored at each sequence's end.
            shape="many_to_many" if lengths is not None else shape,
            output_kind=ready.output_kind,
            output_len=ready.output_len,
            end_token=ready.end_token,
        )
        if isinstance(ready.kind, ValueTargets):
            train_y = self.pad(batches["train"].y, self._train_lengths)
            ready.kind.baseline = mean_baseline(train_y)
        self.set_splits(batches["train"], batches["val"], batches.get("test"))

    def _inputs(self, x: np.ndarray, index: np.ndarray, dtype: torch.dtype) -> Tensor | Rows:
        """A part's inputs: rows read from x.npy as needed, or a tensor on the device (an .npz,
        already in memory)."""
        if self.data.row_file is not None:
            return Rows(self.data.row_file.reshaped(x.shape), index, self.device, dtype)
        return torch.from_numpy(np.asarray(x[index])).to(self.device, dtype)

    def pad(self, y: Tensor, lengths: Tensor | None) -> Tensor:
        """Targets of sequences of ``lengths`` with their padding (none without lengths)."""
        if lengths is None:
            return y
        return pad_targets(y, lengths, self.steps, per_step=self._per_step)

    def train_batch(self, seed: int, step: int) -> Batch:
        idx = self._shuffle.indices(seed, step)
        x, y = self._train.x[idx], self._train.y[idx]
        lengths = None if self._train_lengths is None else self._train_lengths[idx]
        return Batch(x, self.pad(y, lengths))

    def loss(self, pred: Tensor, y: Tensor) -> Tensor:
        return self.targets.loss(pred, y)

    def sequence_loss(self, pred: Tensor, y: Tensor, last_only: bool = True) -> Tensor:
        return self.targets.sequence_loss(pred, y, last_only)

    def metrics(self, pred: Any, y: Tensor) -> dict[str, float]:
        return self.targets.metrics(pred, y)

    def sequence_ends(self, y: Tensor) -> Tensor | None:
        return self.targets.ends(y)

    def source_files(self) -> list[Path]:
        return self.data.files()

    def _lengths(self, lengths: np.ndarray | None, n: int, steps: int) -> Tensor | None:
        if lengths is None:
            return None
        where = self.data.where("lengths")
        if lengths.shape != (n,) or lengths.dtype.kind not in "iu":
            raise file_error(
                where,
                f"lengths has shape {lengths.shape} and dtype {lengths.dtype}",
                f"give one integer length per sequence of x: shape ({n},)",
            )
        values = np.array(lengths, dtype=np.int64)  # a copy: a memory map is read-only
        outside = np.flatnonzero((values < 1) | (values > steps))
        if len(outside):
            raise file_error(
                where,
                f"lengths[{outside[0]}] = {values[outside[0]]} is outside 1..{steps} (the steps "
                f"of x; {len(outside)} such lengths)",
                "give each sequence's number of real steps",
            )
        return torch.from_numpy(values)

    def _split(self, n: int, c: Any) -> dict[str, np.ndarray]:
        """The positions of each part, in file order."""
        given = {p: self.data.get(f"{p}_index") for p in ("train", "val", "test")}
        if any(v is not None for v in given.values()):
            return self._given_split(n, given)
        sizes = split_sizes(n, split_fractions(c.split))
        if min(sizes[:2]) < 1:
            raise file_error(
                self.data.path,
                f"its {n} sequences leave no {'training' if sizes[0] < 1 else 'validation'} set "
                f"with data.split={list(c.split)}",
                "give more sequences or change data.split",
            )
        generator = torch.Generator().manual_seed(stable_hash(_SPLIT_DOMAIN, c.split_seed))
        order = torch.randperm(n, generator=generator).numpy()
        bounds = np.cumsum([0, *sizes])
        parts = {
            p: np.sort(order[bounds[i] : bounds[i + 1]])
            for i, p in enumerate(("train", "val", "test"))
        }
        return {p: v for p, v in parts.items() if len(v)}

    def _given_split(self, n: int, given: dict[str, np.ndarray | None]) -> dict[str, np.ndarray]:
        if given["train"] is None or given["val"] is None:
            raise file_error(
                self.data.path,
                "has some of train_index, val_index, test_index but not both "
                "train_index and val_index",
                "give train_index and val_index (test_index: optional)",
            )
        parts, seen = {}, np.zeros(n, dtype=bool)
        for part, index in given.items():
            if index is None:
                continue
            label = self.data.label(f"{part}_index")
            values = np.asarray(index)
            if values.ndim != 1 or values.dtype.kind not in "iu" or len(values) == 0:
                raise file_error(
                    self.data.where(f"{part}_index"),
                    f"{label} has shape {values.shape} and dtype {values.dtype}",
                    "give positions of sequences of x: a 1-D integer array",
                )
            if values.min() < 0 or values.max() >= n:
                raise file_error(
                    self.data.where(f"{part}_index"),
                    f"{label} has positions outside 0..{n - 1}",
                    f"x has {n} sequences",
                )
            if seen[values].any() or len(np.unique(values)) != len(values):
                raise file_error(
                    self.data.where(f"{part}_index"),
                    f"{label} repeats a position (within itself or of an earlier part)",
                    "give each sequence to one part at most",
                )
            seen[values] = True
            parts[part] = np.sort(values.astype(np.int64))
        return parts
