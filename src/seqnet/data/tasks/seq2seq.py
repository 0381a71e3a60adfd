"""``data=seq2seq``: translation between two small generated languages, many-to-many unaligned.
A number written in digits, up to ``data.max_digits`` (default six), is translated into English
words: "4021" -> "four thousand twenty one" (American style: no "and", no hyphens).

Source: the digits, left-padded to ``max_digits`` steps with a padding token (id 10), so the
encoder's last step is the last digit. Target: the words character by character (letters and
space) and an end token, padded to the longest translation. The number of digits is uniform in
1 .. max_digits and the number uniform among those with that many digits, so short numbers are
as common as long ones. Metrics under greedy decoding: ``token_accuracy`` (target characters
right at their position, the end token included) and ``sequence_accuracy`` (whole translations
right); ``loss`` is the teacher-forced cross-entropy per character.

Generation is vectorised: the words of 0 .. 999 are a table, and a number's translation is
gathered from the pieces "<thousands> thousand <rest>".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Generator, Tensor

from seqnet.data.generated import GeneratedConfig, GeneratedTask
from seqnet.data.sklearn_digits import DIGIT_NAMES
from seqnet.data.task import IGNORE_INDEX, Batch, Decoded, TaskSpec, register_task
from seqnet.data.tokens import (
    CharVocabulary,
    TokenTargets,
    generation_accuracy,
    token_loss,
)

ONES = (
    *DIGIT_NAMES,
    *("ten", "eleven", "twelve", "thirteen", "fourteen"),
    *("fifteen", "sixteen", "seventeen", "eighteen", "nineteen"),
)
TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
SOURCE_PAD = 10  # the source vocabulary: digits 0-9 and the padding token
MAX_DIGITS = 6


def words_below_thousand(n: int) -> str:
    """English words for 0 <= n < 1000."""
    hundreds, rest = divmod(n, 100)
    parts = [f"{ONES[hundreds]} hundred"] if hundreds else []
    if rest >= 20:
        parts.append(TENS[rest // 10] + (f" {ONES[rest % 10]}" if rest % 10 else ""))
    elif rest or not hundreds:
        parts.append(ONES[rest])
    return " ".join(parts)


def number_words(n: int) -> str:
    """English words for 0 <= n < 10**6 (the reference the vectorised generator must match)."""
    thousands, rest = divmod(n, 1000)
    if not thousands:
        return words_below_thousand(rest)
    head = f"{words_below_thousand(thousands)} thousand"
    return f"{head} {words_below_thousand(rest)}" if rest else head


_TABLE_WORDS = [words_below_thousand(n) for n in range(1000)]
_WORD_WIDTH = max(len(w) for w in _TABLE_WORDS)  # 27: "seven hundred seventy seven"
_THOUSAND = " thousand "
VOCABULARY = CharVocabulary("".join(sorted(set("".join(_TABLE_WORDS) + _THOUSAND))))


def longest_translation(max_digits: int) -> int:
    """The length of the longest translation of a number below 10**max_digits."""
    lengths = [len(w) for w in _TABLE_WORDS]
    if max_digits <= 3:
        return max(lengths[: 10**max_digits])
    return max(lengths[1 : 10 ** (max_digits - 3)]) + len(_THOUSAND) + max(lengths[1:])


@dataclass
class Seq2SeqConfig(GeneratedConfig):
    name: str = "seq2seq"
    max_digits: int = 6


@register_task("seq2seq", config=Seq2SeqConfig)
class NumberTranslation(TokenTargets, GeneratedTask):
    metric_names = ("loss", "token_accuracy", "sequence_accuracy")

    def __init__(
        self, config: Any = None, /, *, device: torch.device | str = "cpu", **fields: Any
    ) -> None:
        super().__init__(config, device=device, **fields)
        max_digits = self.config.max_digits
        if not 1 <= max_digits <= MAX_DIGITS:
            raise ValueError(
                f"data.max_digits={max_digits} is not supported: numbers have 1 to "
                f"{MAX_DIGITS} digits here; set data.max_digits between 1 and {MAX_DIGITS}"
            )
        self.max_digits = max_digits
        dev = self.device
        table = VOCABULARY.encode(_TABLE_WORDS, _WORD_WIDTH + 1)[:, :_WORD_WIDTH]
        self._table = table.to(dev)  # (1000, 27): the words of 0..999, then padding
        self._table_len = torch.tensor([len(w) for w in _TABLE_WORDS], device=dev)
        thousand = VOCABULARY.encode([_THOUSAND], len(_THOUSAND) + 1)[0, : len(_THOUSAND)]
        self._thousand = thousand.to(dev)
        self.spec = TaskSpec(
            input_size=SOURCE_PAD + 1,
            output_size=VOCABULARY.size,
            input_kind="tokens",
            shape="encoder_decoder",
            output_kind="tokens",
            output_len=longest_translation(max_digits) + 1,
            end_token=VOCABULARY.end,
        )

    def sample_numbers(self, n: int, generator: Generator) -> Tensor:
        """``n`` numbers: a digit count uniform in 1..max_digits, then uniform among those."""
        dev = self.device
        digits = torch.randint(1, self.max_digits + 1, (n,), generator=generator, device=dev)
        low = torch.where(digits == 1, 0, 10 ** (digits - 1))
        u = torch.rand(n, generator=generator, device=dev, dtype=torch.float64)
        return low + (u * (10**digits - low)).long()

    def translate(self, numbers: Tensor) -> Tensor:
        """Target ids (n, output_len) of ``numbers``: "<thousands> thousand <rest>" gathered
        from the table of 0..999, end token, padding."""
        thousands, rest = numbers // 1000, numbers % 1000
        has_thousands = thousands > 0
        pieces = torch.cat(  # every piece at its full width, then the unused characters dropped
            (
                self._table[thousands],
                self._thousand.expand(len(numbers), -1),
                self._table[rest],
                torch.full_like(rest, VOCABULARY.end).unsqueeze(1),
            ),
            dim=1,
        )
        width = torch.arange(_WORD_WIDTH, device=self.device)
        use_thousands = has_thousands[:, None] & (width < self._table_len[thousands][:, None])
        use_word = has_thousands[:, None].expand(-1, len(_THOUSAND)).clone()
        use_word[:, -1] &= rest > 0  # the space after "thousand" only before a rest
        use_rest = ((rest > 0) | ~has_thousands)[:, None] & (width < self._table_len[rest][:, None])
        keep = torch.cat((use_thousands, use_word, use_rest, use_word.new_ones(len(numbers), 1)), 1)
        order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)  # kept ones first
        packed = pieces.gather(1, order)[:, : self.spec.output_len]
        length = keep.sum(dim=1, keepdim=True)
        steps = torch.arange(self.spec.output_len, device=self.device)
        return packed.masked_fill(steps >= length, IGNORE_INDEX)

    def encode_source(self, numbers: Tensor) -> Tensor:
        """Digits (n, max_digits), left-padded with ``SOURCE_PAD``."""
        powers = 10 ** torch.arange(self.max_digits - 1, -1, -1, device=self.device)
        digits = numbers[:, None] // powers % 10
        # A digit is shown from the number's leading digit on (0 itself is one digit).
        shown = (numbers[:, None] >= powers) | (powers == 1)
        return torch.where(shown, digits, SOURCE_PAD)

    def generate(self, n: int, generator: Generator) -> Batch:
        numbers = self.sample_numbers(n, generator)
        return Batch(self.encode_source(numbers), self.translate(numbers))

    def metrics(self, pred: Decoded, y: Tensor) -> dict[str, float]:
        token, sequence = generation_accuracy(pred.generated, y)
        return {
            "loss": float(token_loss(pred.teacher_forced.double(), y)),
            "token_accuracy": token,
            "sequence_accuracy": sequence,
        }
