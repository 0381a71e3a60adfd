"""``data=digits``: scikit-learn's 8x8 digits classified in a single step (one-to-one, T=1).

The 64 pixel values are one input vector, x (batch, 1, 64); the model reads it in one step of
its core and reads out the class. The degenerate case beside ``seq_digits`` (the same images
read as a sequence), on the same fixed train/val/test split (``data.sklearn_digits``).
Predicting the most frequent class scores 10% accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from seqnet.data.base import Batch, TaskSpec
from seqnet.data.classification import Classification
from seqnet.data.fixed_splits import FixedSplits
from seqnet.data.registry import DataConfig, register_task
from seqnet.data.sklearn_digits import NUM_CLASSES, digits_split


@dataclass
class DigitsConfig(DataConfig):
    name: str = "digits"
    batch_size: int = 64


@register_task("digits", config=DigitsConfig)
class Digits(Classification, FixedSplits):
    spec = TaskSpec(input_size=64, output_size=NUM_CLASSES, shape="one_to_one")

    def __init__(self, batch_size: int = 64, device: torch.device | str = "cpu") -> None:
        super().__init__(batch_size, device)
        splits = {}
        for name in ("train", "val", "test"):
            images, labels = digits_split(name, self.device)
            splits[name] = Batch(images.unsqueeze(1), labels)  # one step of 64 values
        self.set_splits(**splits)
