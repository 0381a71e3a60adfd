"""digits (one step: the whole image), and digit_caption (the image captioned with its digit's
name): batches, epochs, the baselines, and a short learning run each."""

from __future__ import annotations

import math

import pytest
import torch

from helpers.tasks import assert_batches_are_pure, train_steps
from seqnet.data import Decoded, build_task
from seqnet.data.sklearn_digits import DIGIT_NAMES, digits_split
from seqnet.data.task import IGNORE_INDEX
from seqnet.data.tasks.digit_caption import VOCABULARY as CAPTIONS
from seqnet.training.evaluation import evaluate

pytestmark = pytest.mark.usefixtures("one_thread")


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
