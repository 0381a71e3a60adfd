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
from typing import Any

import torch

from seqnet.data.classification import Classification
from seqnet.data.pixel_sequences import ReadOrder, image_sequences, pixel_permutation, read_order
from seqnet.data.sklearn_digits import NUM_CLASSES, digits_split
from seqnet.data.splits import FixedSplits
from seqnet.data.task import Batch, DataConfig, TaskSpec, register_task
from seqnet.registry import plain

SIDE = 8  # the images are SIDE x SIDE
__all__ = ["SIDE", "SeqDigits", "SeqDigitsConfig", "pixel_permutation"]


@dataclass
class SeqDigitsConfig(DataConfig):
    name: str = "seq_digits"
    # pixels: 64 steps of one pixel; rows: 8 steps of one row of 8 pixels.
    read: ReadOrder = ReadOrder.pixels
    # Reorder the 64 pixels by a fixed permutation before reading them (permuted sequential).
    permute: bool = False
    # The permutation's seed (used only with permute=true).
    permute_seed: int = 0


@register_task("seq_digits", config=SeqDigitsConfig)
class SeqDigits(Classification, FixedSplits):
    def __init__(
        self, config: Any = None, /, *, device: torch.device | str = "cpu", **fields: Any
    ) -> None:
        super().__init__(config, device=device, **fields)
        c = self.config
        read = read_order(plain(c.read), "data.read")
        self.read, self.permute, self.permute_seed = read, c.permute, c.permute_seed
        features = 1 if read == "pixels" else SIDE
        self.spec = TaskSpec(
            input_size=features, output_size=NUM_CLASSES, input_kind="real", output_mode="last"
        )
        order = pixel_permutation(c.permute_seed, SIDE * SIDE) if c.permute else None

        def as_sequences(split: str) -> Batch:
            images, labels = digits_split(split, self.device)  # (n, 64) row-major, in [0, 1]
            return Batch(image_sequences(images.view(-1, SIDE, SIDE), read, order), labels)

        self.set_splits(as_sequences("train"), as_sequences("val"), as_sequences("test"))
