"""The tasks seq2seq, sine_gen, digits and digit_caption (and the shared digits split): data,
determinism, baselines against their formulas, and a short seeded learning test each."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seqnet.data import Decoded, build_task
from seqnet.data.sklearn_digits import DIGIT_NAMES, digits_split, load_arrays, split_indices
from seqnet.data.task import IGNORE_INDEX
from seqnet.data.tasks.digit_caption import VOCABULARY as CAPTIONS
from seqnet.data.tasks.seq2seq import VOCABULARY as WORDS
from seqnet.data.tasks.seq2seq import longest_translation, number_words
from seqnet.data.tasks.sine_gen import BASELINE_MSE
from seqnet.models import build_model
from seqnet.training.evaluation import evaluate

pytestmark = pytest.mark.usefixtures("one_thread")


def train_steps(task, model_cfg: dict, steps: int, lr: float = 1e-2, seed: int = 0):
    torch.manual_seed(seed)
    model = build_model(model_cfg, task.spec)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for step in range(steps):
        x, y = task.train_batch(seed, step)
        loss = task.loss(model(x, targets=y)[0], y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


def assert_batches_are_pure(task) -> None:
    """Batch k depends only on (seed, k): not on the order of calls; seeds differ."""
    later = task.train_batch(3, 5)
    first = task.train_batch(3, 0)
    assert torch.equal(task.train_batch(3, 5).x, later.x)
    assert torch.equal(task.train_batch(3, 5).y, later.y)
    assert torch.equal(task.train_batch(3, 0).x, first.x)
    assert not torch.equal(task.train_batch(4, 0).x, first.x)


# ---------------------------------------------------------------------------- seq2seq


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


# ---------------------------------------------------------------------------- sine_gen


def test_sine_gen_waveforms_and_zero_baseline() -> None:
    task = build_task({"name": "sine_gen", "seq_len": 12, "val_size": 20000})
    x, y = task.val_set()
    assert x.shape == (20000, 1, 3) and y.shape == (20000, 12, 1) and y.dtype == torch.float32
    frequency, phase, amplitude = x[:, 0].double().unbind(-1)
    t = torch.arange(12, dtype=torch.float64) / 12
    expected = amplitude[:, None] * torch.sin(2 * math.pi * frequency[:, None] * t + phase[:, None])
    torch.testing.assert_close(y[..., 0].double(), expected, atol=1e-5, rtol=0)
    assert frequency.min() >= 1 and frequency.max() <= 3 and amplitude.min() >= 0.5
    # The zero prediction's MSE on real data against its formula E[A^2]/2 = 13/24.
    zero = task.metrics(Decoded(torch.zeros_like(y), torch.zeros_like(y)), y)
    assert zero["mse"] == pytest.approx(BASELINE_MSE, rel=0.01)
    assert zero["baseline_ratio"] == pytest.approx(1.0, rel=0.01)
    assert_batches_are_pure(task)


def test_sine_gen_learns() -> None:
    task = build_task({"name": "sine_gen", "seq_len": 16, "batch_size": 32, "val_size": 256})
    model = train_steps(task, {"name": "gru", "hidden_size": 24, "encoder_size": 8}, 200)
    metrics = evaluate(model, task)
    assert metrics["baseline_ratio"] < 0.7  # free generation, well below predicting zero
    assert metrics["loss"] < 0.05  # teacher forced


# ---------------------------------------------------------------------------- digits


def test_digits_split_is_fixed_disjoint_and_stratified() -> None:
    images, labels = load_arrays()
    assert images.shape == (1797, 64) and images.dtype == np.float32
    assert images.min() == 0.0 and images.max() == 1.0
    splits = split_indices()
    sizes = {k: len(v) for k, v in splits.items()}
    assert sizes == {"train": 1258, "val": 269, "test": 270}
    assert len(np.unique(np.concatenate(list(splits.values())))) == 1797
    for name, idx in splits.items():
        share = np.bincount(labels[idx], minlength=10) / len(idx)
        assert np.all(np.abs(share - 0.1) < 0.01), name
    x, y = digits_split("val")
    assert torch.equal(x, torch.from_numpy(images[splits["val"]]))
    assert torch.equal(y, torch.from_numpy(labels[splits["val"]]))
    with pytest.raises(ValueError, match="unknown digits split 'dev'"):
        digits_split("dev")


def test_digits_is_one_step() -> None:
    task = build_task({"name": "digits", "batch_size": 50})
    x, y = task.train_batch(0, 0)
    assert x.shape == (50, 1, 64) and y.shape == (50,) and y.dtype == torch.int64
    assert task.spec.shape == "one_to_one"
    assert task.val_set().x.shape == (269, 1, 64) and task.test_set().x.shape == (270, 1, 64)
    # An epoch visits 25 batches of 50 distinct training images (1258 // 50; 8 dropped).
    seen = torch.cat([task.train_batch(0, k).x[:, 0] for k in range(25)])
    assert len(torch.unique(seen, dim=0)) == len(torch.unique(task._train.x[:, 0], dim=0)) - 8
    assert_batches_are_pure(task)
    # The majority-class baseline: accuracy = the share of that class.
    _, y_val = task.val_set()
    always_3 = torch.zeros(len(y_val), 10)
    always_3[:, 3] = 1.0
    assert task.metrics(always_3, y_val)["accuracy"] == float((y_val == 3).double().mean())


def test_digits_learns() -> None:
    task = build_task({"name": "digits", "batch_size": 32})
    metrics = evaluate(train_steps(task, {"name": "lstm", "hidden_size": 16}, 100), task)
    assert metrics["accuracy"] > 0.85  # majority class: 0.10


def test_digit_caption_targets_and_baseline() -> None:
    task = build_task({"name": "digit_caption", "batch_size": 16})
    x, y = task.train_batch(0, 0)
    assert x.shape == (16, 1, 64) and y.shape == (16, 6) and y.dtype == torch.int64
    _, labels = digits_split("train")
    order = task._shuffle.indices(0, 0)
    assert [CAPTIONS.decode(r) for r in y.tolist()] == [DIGIT_NAMES[i] for i in labels[order]]
    assert CAPTIONS.chars == "efghinorstuvwxz" and task.spec.end_token == 15
    # Captioning every image "seven": exact match = the share of sevens.
    _, y_val = task.val_set()
    seven = CAPTIONS.encode(["seven"], 6).expand(len(y_val), -1)
    generated = seven.masked_fill(seven == IGNORE_INDEX, CAPTIONS.end)
    logits = torch.zeros(*y_val.shape, task.spec.output_size)
    scored = task.metrics(Decoded(logits, generated), y_val)
    share = float((y_val[:, :6] == seven).all(dim=1).double().mean())
    assert scored["exact_match"] == share and 0.09 < share < 0.11
    assert scored["loss"] == pytest.approx(math.log(16))  # uniform logits
    assert_batches_are_pure(task)


def test_digit_caption_learns() -> None:
    task = build_task({"name": "digit_caption", "batch_size": 32})
    model = train_steps(task, {"name": "rnn", "hidden_size": 32, "encoder_size": 16}, 150)
    assert evaluate(model, task)["exact_match"] > 0.8  # the most common caption: 0.10
