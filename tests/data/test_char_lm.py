"""``char_lm``: the corpus and its split, streams for truncated BPTT, bits per character,
learning. (The state carried between chunks: tests/training/test_carried_state.py.)"""

from __future__ import annotations

import collections
import math

import numpy as np
import pytest
import torch

from seqnet.data import build_task
from seqnet.data.tasks.char_lm import (
    EVAL_STREAMS,
    VOCABULARY,
    corpus,
    decode,
    encode,
    normalize,
    split_corpus,
)
from seqnet.models import build_model
from seqnet.training.carried_state import CarriedState
from seqnet.training.evaluation import evaluate

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def task():
    return build_task({"name": "char_lm", "batch_size": 4, "seq_len": 10})


# ---------------------------------------------------------------------------- the text


def test_vocabulary_and_normalisation() -> None:
    assert (
        len(VOCABULARY) == 96
        and VOCABULARY[0] == "\n"
        and VOCABULARY[1:] == "".join(chr(c) for c in range(32, 127))
    )
    assert normalize("“It’s” — a…\tß") == '"It\'s" - a...??'
    text = "Hello,\nworld ~"
    assert decode(encode(text)) == text
    assert encode("\n ~").tolist() == [0, 1, 95]


def test_corpus_is_pydoc_topics_split_contiguously() -> None:
    from pydoc_data.topics import topics

    ids = corpus()
    text = normalize("".join(topics[k] for k in sorted(topics)))
    assert decode(ids[:1000]) == text[:1000] and len(ids) == len(text) > 400_000
    parts = split_corpus(ids)
    assert len(parts["train"]) == int(0.9 * len(ids))
    assert len(parts["val"]) == int(0.05 * len(ids))
    np.testing.assert_array_equal(np.concatenate(list(parts.values())), ids)


def test_validation_and_test_are_whole_streams(task) -> None:
    parts = split_corpus(corpus())
    for batch, ids in ((task.val_set(), parts["val"]), (task.test_set(), parts["test"])):
        x, y = batch
        length = (len(ids) - 1) // EVAL_STREAMS
        assert x.shape == y.shape == (EVAL_STREAMS, length) and x.dtype == torch.int64
        np.testing.assert_array_equal(x.flatten().numpy(), ids[: EVAL_STREAMS * length])
        np.testing.assert_array_equal(y.flatten().numpy(), ids[1 : EVAL_STREAMS * length + 1])


def test_probe_batch_is_windows_of_seq_len(task) -> None:
    x, y = task.probe_batch(5)
    val = split_corpus(corpus())["val"]
    assert x.shape == (5, 10)
    np.testing.assert_array_equal(x.flatten().numpy(), val[:50])
    np.testing.assert_array_equal(y.flatten().numpy(), val[1:51])
    windows = (len(val) - 1) // 10
    with pytest.raises(ValueError) as excinfo:
        task.probe_batch(windows + 1)
    assert str(excinfo.value) == (
        f"grad_log.batch_size={windows + 1} is larger than the {windows} windows of "
        f"data.seq_len=10 characters in the validation text; set grad_log.batch_size<={windows}"
    )


def test_unigram_baseline_matches_its_formula(task) -> None:
    counts = collections.Counter(split_corpus(corpus())["train"].tolist())
    n = sum(counts.values())
    entropy = -sum(c / n * math.log2(c / n) for c in counts.values())
    assert task.unigram_bpc == pytest.approx(entropy, rel=1e-12)
    assert 4.5 < entropy < 4.8
    # bpc is the loss in bits: a uniform prediction scores log2(96).
    x, y = task.val_set()
    uniform = task.metrics(torch.zeros(*x.shape, 96), y)
    assert uniform["bpc"] == pytest.approx(math.log2(96)) and uniform["loss"] == math.log(96)


# ---------------------------------------------------------------------------- the streams


def test_consecutive_batches_continue_the_streams(task) -> None:
    x0, y0 = task.train_batch(7, 0)
    x1, _ = task.train_batch(7, 1)
    assert x0.shape == (4, 10) and x0.dtype == torch.int64
    assert torch.equal(y0[:, :-1], x0[:, 1:])  # targets: the next character
    assert torch.equal(x1[:, 0], y0[:, -1])  # batch 1 goes on where batch 0 stopped
    train = torch.from_numpy(split_corpus(corpus())["train"])
    offset = next(o for o in range(10) if torch.equal(train[o : o + 10], x0[0]))  # < seq_len
    for row in range(4):  # stream r starts r stream lengths after the epoch's offset
        start = offset + row * task.stream_len
        assert torch.equal(x0[row], train[start : start + 10])
    K = task.chunks_per_epoch
    assert task.stream_len // 10 == K and task.stream_len == (len(train) - 10) // 4
    assert [task.continues_stream(s) for s in (0, 1, K - 1, K, K + 1)] == [
        False,
        True,
        True,
        False,
        True,
    ]
    # A new epoch starts from its own seeded offset; batches are pure in (seed, step).
    assert not torch.equal(task.train_batch(7, K).x, x0)
    assert torch.equal(task.train_batch(7, 1).x, x1)
    assert torch.equal(task.train_batch(7, 0).x, x0)
    assert not torch.equal(task.train_batch(8, 0).x, x0)


def test_streams_that_do_not_fit() -> None:
    with pytest.raises(ValueError) as excinfo:
        build_task({"name": "char_lm", "batch_size": 5000, "seq_len": 100})
    message = str(excinfo.value)
    assert message.startswith("data.batch_size=5000 streams of data.seq_len=100 characters")
    assert message.endswith("lower data.seq_len or set data.batch_size<=2092")


def test_char_lm_learns() -> None:
    task = build_task({"name": "char_lm", "batch_size": 16, "seq_len": 32})
    torch.manual_seed(0)
    model = build_model({"name": "lstm", "hidden_size": 32, "encoder_size": 16}, task.spec)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    carried = CarriedState(task)
    for step in range(150):
        x, y = task.train_batch(0, step)
        pred, state = model(x, carried.initial(step))
        loss = task.loss(pred, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        carried.keep(step, state)
    bpc = evaluate(model, task)["bpc"]
    assert bpc < task.unigram_bpc - 1.0  # the unigram model: 4.69 bits per character
