"""``data=digit_caption``: captioning, one-to-many. A digit image from scikit-learn's 8x8 set,
the whole 64-value image as one input vector x (batch, 1, 64), is captioned with its English
name spelled character by character and closed by an end token: 7 -> "seven".

The model maps the vector to its decoder's initial state and decodes greedily in validation;
``exact_match`` is the fraction of images whose whole caption (end token included) is right.
Captioning every image with the most frequent name scores 10%. Same fixed train/val/test split
as ``digits`` and ``seq_digits``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from seqnet.data.sklearn_digits import DIGIT_NAMES, digits_split
from seqnet.data.splits import FixedSplits
from seqnet.data.task import Batch, DataConfig, Decoded, TaskSpec, register_task
from seqnet.data.tokens import (
    CharVocabulary,
    TokenTargets,
    generation_accuracy,
    token_loss,
)

#: The letters of the ten names, sorted; id 15 is the end token.
VOCABULARY = CharVocabulary("".join(sorted(set("".join(DIGIT_NAMES)))))
CAPTION_LEN = max(len(name) for name in DIGIT_NAMES) + 1  # with the end token


@dataclass
class DigitCaptionConfig(DataConfig):
    name: str = "digit_caption"


@register_task("digit_caption", config=DigitCaptionConfig)
class DigitCaption(TokenTargets, FixedSplits):
    spec = TaskSpec(
        input_size=64,
        output_size=VOCABULARY.size,
        shape="one_to_many",
        output_kind="tokens",
        output_len=CAPTION_LEN,
        end_token=VOCABULARY.end,
    )
    metric_names = ("loss", "exact_match")

    def __init__(
        self, config: Any = None, /, *, device: torch.device | str = "cpu", **fields: Any
    ) -> None:
        super().__init__(config, device=device, **fields)
        captions = VOCABULARY.encode(DIGIT_NAMES, CAPTION_LEN).to(self.device)  # (10, L)
        splits = {}
        for name in ("train", "val", "test"):
            images, labels = digits_split(name, self.device)
            splits[name] = Batch(images.unsqueeze(1), captions[labels])
        self.set_splits(**splits)

    def metrics(self, pred: Decoded, y: Tensor) -> dict[str, float]:
        _, exact = generation_accuracy(pred.generated, y)
        return {"loss": float(token_loss(pred.teacher_forced.double(), y)), "exact_match": exact}
