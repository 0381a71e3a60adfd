"""``data=char_lm``: a character-level language model on English text that ships with Python:
the reference text of the standard library's ``pydoc_data.topics`` (about 465k characters; its
topics in sorted order), trained with truncated backpropagation through time.

Vocabulary: newline and the 95 printable ASCII characters (96 ids, the same on every Python
version); the few other characters of the text are mapped to ASCII (typographic quotes and
dashes to ' " -, the ellipsis to ...; anything else to ?). Split: the first 90% of the text is
train, the next 5% validation, the last 5% test, contiguous.

Truncated BPTT, evaluation over whole streams and the probe windows: ``seqnet.data.text_streams``
(shared with ``data=text``).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from seqnet.data.task import DataConfig, TaskSpec, register_task
from seqnet.data.text_streams import EVAL_STREAMS, TextStreams

#: The vocabulary: id i is VOCABULARY[i].
VOCABULARY = "\n" + "".join(chr(c) for c in range(32, 127))
_TO_ASCII = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "..."})
_OUTSIDE = re.compile(r"[^\n -~]")  # not newline or printable ASCII
SPLIT_FRACTIONS = (0.90, 0.05)  # train, validation; the test set is the rest
__all__ = [  # EVAL_STREAMS: text_streams', read here too
    "EVAL_STREAMS",
    "VOCABULARY",
    "CharLMConfig",
    "CharLanguageModel",
    "corpus",
    "decode",
    "encode",
    "normalize",
    "split_corpus",
]


def normalize(text: str) -> str:
    """``text`` in the vocabulary's characters (see the module docstring)."""
    return _OUTSIDE.sub("?", text.translate(_TO_ASCII))


def encode(text: str) -> np.ndarray:
    """Ids (int64) of ``text``, which must be in the vocabulary."""
    ids = np.frombuffer(text.encode("ascii"), dtype=np.uint8).astype(np.int64) - 31
    ids[ids == -21] = 0  # "\n" (10 - 31)
    return ids


def decode(ids: list[int] | np.ndarray | torch.Tensor) -> str:
    return "".join(VOCABULARY[int(i)] for i in ids)


@functools.lru_cache(maxsize=1)
def corpus() -> np.ndarray:
    """The whole text's ids, int64."""
    from pydoc_data.topics import topics

    return encode(normalize("".join(topics[key] for key in sorted(topics))))


def split_corpus(ids: np.ndarray) -> dict[str, np.ndarray]:
    n_train = int(SPLIT_FRACTIONS[0] * len(ids))
    n_val = int(SPLIT_FRACTIONS[1] * len(ids))
    return {
        "train": ids[:n_train],
        "val": ids[n_train : n_train + n_val],
        "test": ids[n_train + n_val :],
    }


@dataclass
class CharLMConfig(DataConfig):
    name: str = "char_lm"
    # Parallel streams of text: batch k+1 continues the k-th in every row.
    batch_size: int = 32
    # Characters per chunk: the truncation length of backpropagation through time.
    seq_len: int = 100


@register_task("char_lm", config=CharLMConfig)
class CharLanguageModel(TextStreams):
    spec = TaskSpec(
        input_size=len(VOCABULARY),
        output_size=len(VOCABULARY),
        input_kind="tokens",
        output_mode="every",
        causal=(
            "data=char_lm predicts each character from the ones before it (its target at a "
            "step is the next step's input, and the state is carried from chunk to chunk)"
        ),
    )

    def __init__(
        self, config: Any = None, /, *, device: torch.device | str = "cpu", **fields: Any
    ) -> None:
        super().__init__(config, device=device, **fields)
        parts = {k: torch.from_numpy(v).to(self.device) for k, v in split_corpus(corpus()).items()}
        self.set_text(parts["train"], parts["val"], parts["test"], self.config.seq_len)
