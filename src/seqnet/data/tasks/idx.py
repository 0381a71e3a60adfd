"""``data=idx``: sequential and permuted sequential MNIST from a user's local copy, many-to-one.

``data.path`` is a folder holding the four files of the MNIST distribution, each gzipped
(``.gz``) or not: ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (``seqnet.data.idx_format``); any data
set published in that format and under those names (Fashion-MNIST, KMNIST) reads the same way.
Images are read as ``seq_digits`` reads the 8x8 digits (``seqnet.data.pixel_sequences``):
``data.order=pixels`` feeds one pixel per step (784 steps for MNIST), ``data.order=rows`` one row
per step (28 steps of 28), ``data.permute=true`` reorders the pixels by a fixed permutation
first (permuted sequential MNIST). Unsigned-byte pixels are scaled to [0, 1].

Split: the first ``data.val_size`` training images are the validation set (the head, so the
gradient probe batch does not change with the size), the rest train; ``t10k`` is the test set.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqnet.data.classification import Classification
from seqnet.data.files import FileConfig, data_path, file_error
from seqnet.data.idx_format import read_idx
from seqnet.data.pixel_sequences import ReadOrder, image_sequences, pixel_permutation, read_order
from seqnet.data.splits import FixedSplits
from seqnet.data.task import Batch, TaskSpec, register_task
from seqnet.registry import plain

#: The four files, by part: (images, labels).
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
EXPECT = "a folder holding the four MNIST files (train-images-idx3-ubyte and friends)"


@dataclass
class IDXConfig(FileConfig):
    name: str = "idx"
    # pixels: one pixel per step (784 steps for MNIST); rows: one row per step (28 steps of 28).
    order: ReadOrder = ReadOrder.pixels
    # Reorder the pixels by a fixed permutation before reading them (permuted sequential MNIST).
    permute: bool = False
    # The permutation's seed (used only with permute=true).
    permute_seed: int = 0
    # The first val_size training images are held out for validation (and the probe batch).
    val_size: int = 5000
    # Labels are 0 .. classes-1; any other label in the files is refused.
    classes: int = 10


def find_idx_file(folder: Path, name: str) -> Path:
    """``folder/name`` or ``folder/name.gz``."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    there = ", ".join(sorted(p.name for p in folder.iterdir())) or "nothing"
    raise file_error(
        folder,
        f"has no {name} (or {name}.gz); it holds: {there}",
        f"give {EXPECT}, under their published names",
    )


def read_part(images_path: Path, labels_path: Path, classes: int) -> tuple[np.ndarray, ...]:
    """Images (n, H, W) and labels (n,) int64 of one part, checked against each other."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or len(images) == 0:
        raise file_error(images_path, f"holds an array of shape {images.shape}", "give images")
    if labels.ndim != 1 or len(labels) != len(images):
        raise file_error(
            labels_path,
            f"holds {labels.shape} labels for the {len(images)} images of {images_path.name}",
            "give the labels file of the same part (one label per image)",
        )
    labels = labels.astype(np.int64)
    outside = np.flatnonzero((labels < 0) | (labels >= classes))
    if len(outside):
        raise file_error(
            labels_path,
            f"label {labels[outside[0]]} at image {outside[0]} is outside the declared classes "
            f"0..{classes - 1} (data.classes={classes}; {len(outside)} such label"
            f"{'s' if len(outside) > 1 else ''})",
            f"set data.classes to at least {int(labels.max()) + 1}, or fix the labels",
        )
    return images, labels


@register_task("idx", config=IDXConfig)
class IDXImages(Classification, FixedSplits):
    def __init__(
        self, config: Any = None, /, *, device: torch.device | str = "cpu", **fields: Any
    ) -> None:
        super().__init__(config, device=device, **fields)
        c = self.config
        order = read_order(plain(c.order), "data.order")
        if c.classes < 2:
            raise ValueError(f"data.classes must be >= 2, got {c.classes}")
        folder = data_path(c.path, EXPECT, folder=True)
        self.files = [find_idx_file(folder, n) for part in IDX_FILES.values() for n in part]
        train_images, train_labels = read_part(*self.files[:2], c.classes)
        test_images, test_labels = read_part(*self.files[2:], c.classes)
        if train_images.shape[1:] != test_images.shape[1:]:
            raise file_error(
                folder,
                f"its training images are {train_images.shape[1:]}, its test images "
                f"{test_images.shape[1:]}",
                "give the two parts of one data set",
            )
        if not 1 <= c.val_size < len(train_images):
            raise ValueError(
                f"data.val_size={c.val_size} must be between 1 and {len(train_images) - 1}: the "
                f"validation set is held out from the {len(train_images)} training images"
            )
        self.order, self.val_size = order, c.val_size
        height, width = train_images.shape[1:]
        permutation = pixel_permutation(c.permute_seed, height * width) if c.permute else None
        self.spec = TaskSpec(
            input_size=1 if order == "pixels" else width,
            output_size=c.classes,
            input_kind="real",
            output_mode="last",
        )

        def sequences(images: np.ndarray, labels: np.ndarray) -> Batch:
            pixels = torch.from_numpy(images).to(self.device)
            scaled = pixels / 255.0 if images.dtype == np.uint8 else pixels.float()
            x = image_sequences(scaled.float(), order, permutation)
            return Batch(x, torch.from_numpy(labels).to(self.device))

        head = slice(0, c.val_size)
        rest = slice(c.val_size, None)
        self.set_splits(
            train=sequences(train_images[rest], train_labels[rest]),
            val=sequences(train_images[head], train_labels[head]),
            test=sequences(test_images, test_labels),
        )

    def source_files(self) -> list[Path]:
        return self.files
