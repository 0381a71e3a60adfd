"""seq2seq: numbers written as words, the vectorised translation against the reference, uniform
digit counts, bad max_digits, the metrics against their formulas, and a short learning run."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.tasks import assert_batches_are_pure, train_steps
from seqnet.data import Decoded, build_task
from seqnet.data.task import IGNORE_INDEX
from seqnet.data.tasks.seq2seq import VOCABULARY as WORDS
from seqnet.data.tasks.seq2seq import longest_translation, number_words
from seqnet.training.evaluation import evaluate

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (7, "seven"),
        (15, "fifteen"),
        (40, "forty"),
        (4021, "four thousand twenty one"),
        (100000, "one hundred thousand"),
        (110010, "one hundred ten thousand ten"),
        (999999, "nine hundred ninety nine thousand nine hundred ninety nine"),
    ],
)
def test_number_words(n: int, words: str) -> None:
    assert number_words(n) == words


def test_seq2seq_batches_translate_their_numbers() -> None:
    task = build_task({"name": "seq2seq", "val_size": 300})
    assert task.spec.output_len == longest_translation(6) + 1 == 65  # 27 + " thousand " + 27
    x, y = task.train_batch(0, 0)
    assert x.shape == (64, 6) and x.dtype == torch.int64 and y.shape == (64, 65)
    for source, target in zip(x.tolist(), y.tolist(), strict=True):
        digits = "".join(str(d) for d in source if d != 10)
        assert source[: 6 - len(digits)] == [10] * (6 - len(digits))  # left padding
        words = number_words(int(digits))
        assert WORDS.decode(target) == words
        assert target[len(words)] == WORDS.end
        assert target[len(words) + 1 :] == [IGNORE_INDEX] * (64 - len(words))
    # The vectorised generator against the reference on every number below 2000 and a sample.
    numbers = torch.cat((torch.arange(2000), torch.randint(0, 10**6, (3000,))))
    decoded = [WORDS.decode(t) for t in task.translate(numbers).tolist()]
    assert decoded == [number_words(n) for n in numbers.tolist()]
    assert_batches_are_pure(task)


def test_seq2seq_digit_counts_are_uniform() -> None:
    task = build_task({"name": "seq2seq", "max_digits": 3})
    numbers = task.sample_numbers(30000, torch.Generator().manual_seed(0))
    counts = np.bincount([len(str(n)) for n in numbers.tolist()])[1:]
    assert len(counts) == 3 and np.all(np.abs(counts / 30000 - 1 / 3) < 0.01)
    assert task.spec.output_len == 28  # "seven hundred seventy seven" and the end token


def test_seq2seq_max_digits_out_of_range() -> None:
    with pytest.raises(ValueError) as excinfo:
        build_task({"name": "seq2seq", "max_digits": 7})
    assert str(excinfo.value) == (
        "data.max_digits=7 is not supported: numbers have 1 to 6 digits here; "
        "set data.max_digits between 1 and 6"
    )


def test_seq2seq_metrics_follow_their_formulas() -> None:
    task = build_task({"name": "seq2seq", "max_digits": 2, "val_size": 4})
    _, y = task.val_set()
    generated = y.masked_fill(y == IGNORE_INDEX, task.spec.end_token)
    logits = torch.nn.functional.one_hot(generated, task.spec.output_size).float() * 50
    perfect = task.metrics(Decoded(logits, generated), y)
    assert perfect["token_accuracy"] == 1.0 and perfect["sequence_accuracy"] == 1.0
    assert perfect["loss"] < 1e-6
    wrong = generated.clone()
    wrong[0, 0] = (wrong[0, 0] + 1) % task.spec.end_token  # one character of one sequence
    scored = task.metrics(Decoded(logits, wrong), y)
    n_tokens = int((y != IGNORE_INDEX).sum())
    assert scored["token_accuracy"] == pytest.approx(1 - 1 / n_tokens, abs=1e-12)
    assert scored["sequence_accuracy"] == 0.75


def test_seq2seq_learns() -> None:
    task = build_task({"name": "seq2seq", "max_digits": 2, "batch_size": 32, "val_size": 256})
    model_cfg = {"name": "gru", "hidden_size": 32, "encoder_size": 16}
    metrics = evaluate(train_steps(task, model_cfg, 120, lr=2e-2), task)
    # The best input-blind answer: the most common token at each target position.
    _, y = task.val_set()
    blind = sum(
        np.bincount(col[col != IGNORE_INDEX].numpy()).max() for col in y.T if (col >= 0).any()
    ) / float((y != IGNORE_INDEX).sum())
    assert blind < 0.35
    assert metrics["token_accuracy"] > 0.7
    assert metrics["sequence_accuracy"] > 0.4
