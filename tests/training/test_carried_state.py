"""The state carried between chunks of a stream (``CarriedState``; char_lm's truncated BPTT):
detached at chunk boundaries, dropped at epoch boundaries, carried by the loop and resumed bit
for bit."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from conftest import TINY_RUN, compose_config
from helpers.runs import last_ckpt
from seqnet.data import build_task
from seqnet.models import build_model
from seqnet.training.carried_state import CarriedState
from seqnet.training.loop import train

pytestmark = pytest.mark.usefixtures("one_thread")

#: A run of a few seconds: 6 steps of 8 streams x 12 characters, validated and saved at 3.
TINY_CHAR = [
    *TINY_RUN,
    "data=char_lm",
    "data.batch_size=8",
    "data.seq_len=12",
    "model.encoder_size=8",
]


def char_cfg(tmp_path: Path, run: str, *overrides: str):
    return compose_config([*TINY_CHAR, *overrides, f"paths.run_dir={tmp_path / run}"])


@pytest.fixture(scope="module")
def task():
    return build_task({"name": "char_lm", "batch_size": 4, "seq_len": 10})


def test_carried_state_is_detached_and_truncates_the_gradient(task) -> None:
    torch.manual_seed(0)
    model = build_model({"name": "lstm", "hidden_size": 6, "encoder_size": 4}, task.spec)
    carried = CarriedState(task)
    assert carried.initial(0) is None
    x0, _ = task.train_batch(0, 0)
    x1, y1 = task.train_batch(0, 1)
    _, state = model(x0)
    carried.keep(0, state)
    h, c = carried.initial(1)
    assert not h.requires_grad and h.grad_fn is None and torch.equal(h, state[0])
    assert torch.equal(c, state[1])

    def grads(loss):
        return torch.autograd.grad(loss, list(model.parameters()))

    truncated = grads(task.loss(model(x1, (h, c))[0], y1))
    constant = grads(task.loss(model(x1, (h.clone(), c.clone()))[0], y1))
    # Without the truncation the second chunk's loss reaches back into the first chunk.
    pred, _ = model(torch.cat((x0, x1), dim=1))
    full = grads(task.loss(pred[:, 10:], y1))
    for a, b in zip(truncated, constant, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert any(not torch.allclose(a, f) for a, f in zip(truncated, full, strict=True))
    # The state from the first chunk is the state a longer run reaches at that point.
    torch.testing.assert_close(model(x1, (h, c))[0], pred[:, 10:], rtol=1e-5, atol=1e-6)
    # Dropped at an epoch boundary and after a non-finite step.
    carried.keep(task.chunks_per_epoch - 1, state)
    assert carried.initial(task.chunks_per_epoch) is None
    carried.keep(0, None)
    assert carried.initial(1) is None


@pytest.mark.slow
def test_training_carries_the_state_and_resumes_bit_exact(tmp_path: Path, monkeypatch) -> None:
    full = train(char_cfg(tmp_path, "full"))
    half = train(char_cfg(tmp_path, "half", "trainer.max_steps=3"))
    assert half["step"] == 3
    half_ckpt = last_ckpt(tmp_path / "half")
    h, c = half_ckpt["carried_state"]
    assert h.shape == c.shape == (1, 8, 16) and not h.requires_grad
    resumed = train(
        char_cfg(tmp_path, "resumed", f"ckpt_path={tmp_path / 'half/checkpoints/last.pt'}")
    )
    a, b = last_ckpt(tmp_path / "full"), last_ckpt(tmp_path / "resumed")
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    for s, t in zip(a["carried_state"], b["carried_state"], strict=True):
        assert torch.equal(s, t)
    assert resumed == full
    assert set(full) >= {"val/loss", "val/bpc"}
    assert full["val/bpc"] == pytest.approx(full["val/loss"] / math.log(2))
    # Without the carried state the same run trains differently: the loop does carry it.
    monkeypatch.setattr(
        type(build_task({"name": "char_lm"})), "continues_stream", lambda s, k: False
    )
    cold = train(char_cfg(tmp_path, "cold"))
    assert last_ckpt(tmp_path / "cold")["carried_state"] is None
    assert cold["val/loss"] != full["val/loss"]
