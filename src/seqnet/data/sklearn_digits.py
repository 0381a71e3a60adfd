"""scikit-learn's 8x8 handwritten digits, loaded once and split once, for every task built on them.

``sklearn.datasets.load_digits`` reads the 1797 images bundled in the scikit-learn wheel (nothing
is downloaded). Pixels (0..16) are scaled to [0, 1]; ``images`` are (n, 64) float32 in row-major
order (row 0 left to right, then row 1, ...), ``labels`` (n,) int64.

The split is fixed and stratified, the same for every run and every task (``digits``,
``seq_digits``, ``digit_caption``): within each class the images are ordered by a hash of their
index (not by a random generator, so the split cannot change with numpy or torch versions), and
the first 70% go to ``train``, the next 15% to ``val``, the rest to ``test``: 1258 / 269 / 270
images, each class in the same proportions.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import Tensor

from seqnet.data.seeds import stable_hash

SPLITS = ("train", "val", "test")
#: Fractions of each class in ``train`` and ``val`` (``test`` gets the rest).
TRAIN_FRACTION, VAL_FRACTION = 0.70, 0.15
NUM_CLASSES = 10
DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_SPLIT_DOMAIN = 0x6469_6769_7473  # "digits": the hash domain of the split order


@functools.lru_cache(maxsize=1)
def load_arrays() -> tuple[np.ndarray, np.ndarray]:
    """All 1797 images (n, 64) float32 in [0, 1] and labels (n,) int64, in scikit-learn's order."""
    from sklearn.datasets import load_digits  # imported here: it takes a second or two

    data = load_digits()
    return (data.data / 16.0).astype(np.float32), data.target.astype(np.int64)


@functools.lru_cache(maxsize=1)
def split_indices() -> dict[str, np.ndarray]:
    """Indices into ``load_arrays()`` of each split (sorted)."""
    _, labels = load_arrays()
    parts: dict[str, list[np.ndarray]] = {name: [] for name in SPLITS}
    for digit in range(NUM_CLASSES):
        members = np.flatnonzero(labels == digit)
        members = members[np.argsort([stable_hash(_SPLIT_DOMAIN, int(i)) for i in members])]
        n_train = round(TRAIN_FRACTION * len(members))
        n_val = round(VAL_FRACTION * len(members))
        parts["train"].append(members[:n_train])
        parts["val"].append(members[n_train : n_train + n_val])
        parts["test"].append(members[n_train + n_val :])
    return {name: np.sort(np.concatenate(idx)) for name, idx in parts.items()}


def digits_split(split: str, device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
    """``(images (n, 64) float32, labels (n,) int64)`` of ``split`` (train | val | test), on
    ``device``."""
    if split not in SPLITS:
        raise ValueError(f"unknown digits split {split!r}; one of {', '.join(SPLITS)}")
    images, labels = load_arrays()
    idx = split_indices()[split]
    return (
        torch.from_numpy(images[idx]).to(device),
        torch.from_numpy(labels[idx]).to(device),
    )
