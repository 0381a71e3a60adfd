"""Sequential 8x8 digits: scikit-learn's 1797 handwritten digits read as a sequence, many-to-one,
the small cousin of sequential and permuted sequential MNIST.

``data.read=pixels`` feeds the 64 pixels one per step (64 steps of 1 value), ``data.read=rows``
one row per step (8 steps of 8 values). ``data.permute=true`` first reorders the 64 pixels by a
fixed permutation (drawn from ``data.permute_seed``, the same for every image and every run), so
that neighbouring pixels are no longer neighbouring steps and the dependencies a model must
bridge span the whole sequence. The images and the fixed stratified train/val/test split
(1258 / 269 / 270) are shared with the other digits tasks (``seqnet.data.sklearn_digits``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import torch
from torch import Tensor

from seqnet.data.classification import Classification
from seqnet.data.seeds import stable_hash
from seqnet.data.sklearn_digits import NUM_CLASSES, digits_split
from seqnet.data.splits import FixedSplits
from seqnet.data.task import Batch, DataConfig, TaskSpec, register_task
from seqnet.registry import plain

SIDE = 8  # the images are SIDE x SIDE
_PERMUTE_DOMAIN = 0x7065_726D  # "perm": the hash domain of the pixel permutation


class ReadOrder(Enum):
    pixels = "pixels"  # 64 steps of 1 value
    rows = "rows"  # 8 steps of 8 values


@dataclass
class SeqDigitsConfig(DataConfig):
    name: str = "seq_digits"
    # pixels: 64 steps of one pixel; rows: 8 steps of one row of 8 pixels.
    read: ReadOrder = ReadOrder.pixels
    # Reorder the 64 pixels by a fixed permutation before reading them (permuted sequential).
    permute: bool = False
    # The permutation's seed (used only with permute=true).
    permute_seed: int = 0


def pixel_permutation(seed: int) -> Tensor:
    """A fixed permutation of the 64 pixel positions, from integer hashing alone, so it is the
    same on every platform and library version."""
    keys = [stable_hash(_PERMUTE_DOMAIN, seed, i) for i in range(SIDE * SIDE)]
    return torch.from_numpy(np.argsort(keys, kind="stable"))


@register_task("seq_digits", config=SeqDigitsConfig)
class SeqDigits(Classification, FixedSplits):
    def __init__(
        self, config: Any = None, /, *, device: torch.device | str = "cpu", **fields: Any
    ) -> None:
        super().__init__(config, device=device, **fields)
        c = self.config
        read, permute, permute_seed = plain(c.read), c.permute, c.permute_seed
        if read not in ReadOrder.__members__:
            raise ValueError(f"data.read must be 'pixels' or 'rows', got {read!r}")
        self.read, self.permute, self.permute_seed = read, permute, permute_seed
        steps, features = (SIDE * SIDE, 1) if read == "pixels" else (SIDE, SIDE)
        self.spec = TaskSpec(
            input_size=features, output_size=NUM_CLASSES, input_kind="real", output_mode="last"
        )
        order = pixel_permutation(permute_seed).to(self.device) if permute else None

        def as_sequences(split: str) -> Batch:
            images, labels = digits_split(split, self.device)  # (n, 64) row-major, in [0, 1]
            if order is not None:
                images = images[:, order]
            return Batch(images.reshape(len(images), steps, features), labels)

        self.set_splits(as_sequences("train"), as_sequences("val"), as_sequences("test"))
