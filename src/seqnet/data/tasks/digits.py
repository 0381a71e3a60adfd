"""``data=digits``: scikit-learn's 8x8 digits classified in a single step (one-to-one, T=1).

The 64 pixel values are one input vector, x (batch, 1, 64); the model reads it in one step of
its core and reads out the class. The degenerate case beside ``seq_digits`` (the same images
read as a sequence), on the same fixed train/val/test split (``data.sklearn_digits``).
Predicting the most frequent class scores 10% accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from seqnet.data.classification import Classification
from seqnet.data.sklearn_digits import NUM_CLASSES, digits_split
from seqnet.data.splits import FixedSplits
from seqnet.data.task import Batch, DataConfig, TaskSpec, register_task


@dataclass
class DigitsConfig(DataConfig):
    name: str = "digits"


@register_task("digits", config=DigitsConfig)
class Digits(Classification, FixedSplits):
    spec = TaskSpec(input_size=64, output_size=NUM_CLASSES, shape="one_to_one")

    def __init__(
        self, config: Any = None, /, *, device: torch.device | str = "cpu", **fields: Any
    ) -> None:
        super().__init__(config, device=device, **fields)
        splits = {}
        for name in ("train", "val", "test"):
            images, labels = digits_split(name, self.device)
            splits[name] = Batch(images.unsqueeze(1), labels)  # one step of 64 values
        self.set_splits(**splits)
