"""``data=text``: a character-level language model on a user's own text, ``data.path`` a UTF-8
text file or a folder of them (every file under it, hidden ones left out, in the order of their
paths, joined as they are), trained with the same truncated BPTT as ``char_lm``
(``seqnet.data.text_streams``).

The text is cut into contiguous parts by ``data.split`` (train, validation[, test]). The
vocabulary is the characters of the training part, in code-point order, after id 0, ``<unk>``:
a character the training part never has (in the validation or test text, or a prompt of
``seqnet-sample``) reads as ``<unk>``. The vocabulary is kept in every checkpoint
(``saved_state``), so ``seqnet-sample`` writes text without the files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqnet.data.files import FileConfig, data_path, file_error, split_fractions, split_sizes
from seqnet.data.task import TaskSpec, register_task
from seqnet.data.text_streams import TextStreams
from seqnet.errors import DataFileError

UNKNOWN = "<unk>"
#: How ``<unk>`` is written out (``CharVocabulary.decode``): the Unicode replacement character.
UNKNOWN_SHOWN = "\ufffd"
EXPECT = "a UTF-8 text file or a folder of them"


@dataclass
class TextConfig(FileConfig):
    name: str = "text"
    # Parallel streams of text: batch k+1 continues the k-th in every row.
    batch_size: int = 32
    # Characters per chunk: the truncation length of backpropagation through time.
    seq_len: int = 100
    # Fractions of the text for train, validation[, test]: contiguous parts, in that order.
    split: list[float] = field(default_factory=lambda: [0.9, 0.05, 0.05])


class CharVocabulary:
    """Id 0 is ``<unk>``; ids 1.. are ``chars`` (distinct, in code-point order)."""

    def __init__(self, chars: str) -> None:
        self.chars = chars
        self.size = len(chars) + 1
        self._points = np.array([ord(c) for c in chars], dtype=np.uint32)

    def encode(self, text: str) -> np.ndarray:
        """Ids (int64) of ``text``; characters outside the vocabulary are ``<unk>`` (0)."""
        points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        if not len(self._points):
            return np.zeros(len(points), dtype=np.int64)
        where = np.searchsorted(self._points, points).clip(max=len(self._points) - 1)
        known = self._points[where] == points
        return np.where(known, where + 1, 0).astype(np.int64)

    def decode(self, ids: Any) -> str:
        return "".join(UNKNOWN_SHOWN if int(i) == 0 else self.chars[int(i) - 1] for i in ids)

    def unknown(self, text: str) -> list[str]:
        """The distinct characters of ``text`` outside the vocabulary, in order."""
        return sorted(set(text) - set(self.chars))


def text_files(root: Path) -> list[Path]:
    """``root`` itself, or every file under the folder ``root`` (names starting with a dot,
    and files in such folders, left out), sorted by path."""
    if root.is_file():
        return [root]
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    if not files:
        raise file_error(root, "the folder holds no files", f"give {EXPECT}")
    return files


def read_text(path: Path) -> str:
    """The file decoded as UTF-8; a byte that is not UTF-8 stops with its offset."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise file_error(path, f"cannot be read ({e.strerror})", "check its permissions") from e
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise file_error(
            path,
            f"is not UTF-8: byte 0x{data[e.start]:02x} at offset {e.start} (line {line})",
            "convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8) or remove that byte",
        ) from e


@register_task("text", config=TextConfig)
class TextLanguageModel(TextStreams):
    def __init__(
        self, config: Any = None, /, *, device: torch.device | str = "cpu", **fields: Any
    ) -> None:
        super().__init__(config, device=device, **fields)
        c = self.config
        root = data_path(c.path, EXPECT)
        self.files = text_files(root)
        text = "".join(read_text(path) for path in self.files)
        if not text:
            raise file_error(root, "is empty: there is no text to model", f"give {EXPECT}")
        n_train, n_val, n_test = split_sizes(len(text), split_fractions(c.split))
        self.vocabulary = CharVocabulary("".join(sorted(set(text[:n_train]))))
        size = self.vocabulary.size
        self.spec = TaskSpec(
            size,
            size,
            input_kind="tokens",
            output_mode="every",
            causal=(
                "data=text predicts each character from the ones before it (its target at a "
                "step is the next step's input, and the state is carried from chunk to chunk)"
            ),
        )
        ids = torch.from_numpy(self.vocabulary.encode(text)).to(self.device)
        parts = torch.split(ids, [n_train, n_val, n_test])
        try:
            self.set_text(parts[0], parts[1], parts[2] if n_test else None, c.seq_len)
        except ValueError as e:  # parts too short for the streams: the message has the fix
            raise DataFileError(f"data.path: {root} ({len(text)} characters): {e}") from e

    def source_files(self) -> list[Path]:
        return self.files

    def saved_state(self) -> dict[str, Any]:
        return {"vocabulary": self.vocabulary.chars}
