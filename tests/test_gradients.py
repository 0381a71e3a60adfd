"""Exactness of the gradient probes against an independent reference, and their bookkeeping."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import Tensor

from seqnet.data import Task, TaskSpec, build_task
from seqnet.data.task import Batch
from seqnet.gradients import GradientProfile, measure_profile
from seqnet.gradients.profiles import log10_floor
from seqnet.models import build_model
from textbook import state_gradient_norms, textbook_unroll


def reference_norms(model, task: Task, x: Tensor, y: Tensor, last_only: bool = True):
    """A plain unrolled loop written from the textbook equations, states retained, and
    ``torch.autograd.grad`` of the summed per-sequence loss with respect to each state."""
    e = model.encoder(x)
    outputs, states, _ = textbook_unroll(model.core, e)
    loss = task.sequence_loss(model.head(outputs), y, last_only=last_only).sum()
    return {q: v.numpy() for q, v in state_gradient_norms(loss, states, {"x": e}).items()}


CASES = [
    ({"name": "rnn", "nonlinearity": "tanh"}, 1),
    ({"name": "rnn", "nonlinearity": "relu"}, 1),
    ({"name": "rnn", "nonlinearity": "tanh"}, 3),
    ({"name": "lstm"}, 1),
    ({"name": "lstm"}, 2),
    ({"name": "gru"}, 1),
    ({"name": "gru"}, 2),
]


@pytest.mark.parametrize(("model_cfg", "layers"), CASES)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_probe_matches_reference(model_cfg, layers, dtype, flush_denormal):
    torch.manual_seed(0)
    task = build_task({"name": "adding", "seq_len": 15, "val_size": 6})
    model = build_model({**model_cfg, "hidden_size": 10, "num_layers": layers}, task.spec)
    x, y = task.val_set()
    profile = measure_profile(model, task, Batch(x, y), step=7, dtype=dtype)
    reference = reference_norms(model.double(), task, x.double(), y.double())

    expected = {"x"} | {f"h_l{k}" for k in range(layers)}
    if model_cfg["name"] == "lstm":
        expected |= {f"c_l{k}" for k in range(layers)}
    assert set(profile.norms) == expected
    assert profile.step == 7 and profile.dtype == dtype
    rtol = 1e-10 if dtype == "float64" else 1e-5
    for q, ref in reference.items():
        assert profile.norms[q].shape == (15,)
        np.testing.assert_allclose(profile.norms[q], ref, rtol=rtol, err_msg=q)
        assert np.all(ref > 0)


def test_lstm_cell_probe_includes_path_through_h():
    """dL/dc_T-1 is not zero when the loss reads only h_T-1: c_T-1 reaches it through h_T-1."""
    torch.manual_seed(1)
    task = build_task({"name": "adding", "seq_len": 8, "val_size": 4})
    model = build_model({"name": "lstm", "hidden_size": 6}, task.spec)
    profile = measure_profile(model, task, task.val_set(), step=0, dtype="float64")
    assert profile.norms["c_l0"][-1] > 1e-3


class EchoTask(Task):
    """A many-to-many toy task: output at every step, target = the input delayed by one step."""

    spec = TaskSpec(input_size=1, output_size=1, input_kind="real", output_mode="every")

    def __init__(self, seq_len: int, n: int) -> None:
        super().__init__(batch_size=n)
        self.seq_len = seq_len
        g = torch.Generator().manual_seed(3)
        x = torch.randn(n, seq_len, 1, generator=g)
        self._val = Batch(x, torch.roll(x, 1, dims=1))

    def val_set(self) -> Batch:
        return self._val

    def sequence_loss(self, pred: Tensor, y: Tensor, last_only: bool = True) -> Tensor:
        per_step = ((pred - y) ** 2).sum(-1)
        return per_step[:, -1] if last_only else per_step.sum(dim=1)


@pytest.mark.parametrize("loss", ["last", "total"])
def test_per_step_outputs_last_and_total_loss(loss):
    torch.manual_seed(2)
    task = EchoTask(seq_len=9, n=5)
    model = build_model({"name": "gru", "hidden_size": 7, "num_layers": 2}, task.spec)
    profile = measure_profile(model, task, task.val_set(), 0, dtype="float64", loss=loss)
    x, y = task.val_set()
    reference = reference_norms(model.double(), task, x.double(), y.double(), loss == "last")
    for q, ref in reference.items():
        np.testing.assert_allclose(profile.norms[q], ref, rtol=1e-10, err_msg=q)


def test_last_and_total_differ_for_per_step_outputs():
    torch.manual_seed(2)
    task = EchoTask(seq_len=9, n=5)
    model = build_model({"name": "rnn", "hidden_size": 7}, task.spec)
    last = measure_profile(model, task, task.val_set(), 0, dtype="float64", loss="last")
    total = measure_profile(model, task, task.val_set(), 0, dtype="float64", loss="total")
    # With the total loss every step's own output adds a direct gradient to h_t.
    assert np.all(total.norms["h_l0"][:-1] > last.norms["h_l0"][:-1])


def test_float32_underflows_to_zero_and_float64_does_not(flush_denormal):
    torch.manual_seed(0)
    task = build_task({"name": "adding", "seq_len": 300, "val_size": 16})
    model = build_model({"name": "rnn"}, task.spec)
    f32 = measure_profile(model, task, task.val_set(), 0, dtype="float32")
    f64 = measure_profile(model, task, task.val_set(), 0, dtype="float64")
    zeros = f32.summary("h_l0", 1e-3)["zero_steps"]
    assert zeros > 0
    assert np.all(f32.norms["h_l0"][:zeros] == 0.0)  # underflow starts at the earliest steps
    assert f64.summary("h_l0", 1e-3)["zero_steps"] == 0
    assert f64.log10("h_l0")[0] < -45  # far below float32's smallest number
    # The floor stands for zero in log10 and in the summaries; the model is unchanged.
    assert log10_floor("float32") == -46.0
    assert np.all(f32.log10("h_l0")[:zeros] == -46.0)
    assert f32.summary("h_l0", 1e-3)["log10_ratio"] == -46.0 - f32.log10("h_l0")[-1]
    assert next(model.parameters()).dtype == torch.float32
    # Where float32 has not underflowed, both agree.
    ok = slice(-50, None)
    np.testing.assert_allclose(f32.norms["h_l0"][ok], f64.norms["h_l0"][ok], rtol=1e-4)


def test_profile_summaries_on_synthetic_norms():
    p = GradientProfile(
        step=5, norms={"h_l0": np.array([0.0, 1e-6, 1e-4, 0.5, 1.0])}, dtype="float64"
    )
    np.testing.assert_array_equal(p.log10("h_l0"), [-325.0, -6.0, -4.0, math.log10(0.5), 0.0])
    assert p.summary("h_l0", 1e-3)["log10_ratio"] == -325.0
    # t=4 and t=3 stay >= 1e-3 x norm[4]; t=2 falls below
    assert p.summary("h_l0", 1e-3)["horizon"] == 2
    assert p.summary("h_l0", 1e-7)["horizon"] == 4
    assert p.summary("h_l0", 1e-3)["zero_steps"] == 1
    flat = GradientProfile(step=0, norms={"h_l0": np.ones(6)})
    assert flat.summary("h_l0", 1e-3) == {"log10_ratio": 0.0, "horizon": 6, "zero_steps": 0}
    dead = GradientProfile(step=0, norms={"h_l0": np.zeros(3)})
    assert dead.summary("h_l0", 1e-3)["horizon"] == 0


def test_probe_leaves_training_state_untouched():
    torch.manual_seed(0)
    task = build_task({"name": "adding", "seq_len": 10, "val_size": 8})
    model = build_model(
        {"name": "lstm", "hidden_size": 8, "num_layers": 2, "dropout": 0.5}, task.spec
    )
    model.train()
    x, y = task.train_batch(0, 0)
    task.loss(model(x)[0], y).backward()
    grads = [p.grad.clone() for p in model.parameters()]
    weights = [p.detach().clone() for p in model.parameters()]
    rng = torch.get_rng_state()
    measure_profile(model, task, task.val_set(), 0, dtype="float32")
    measure_profile(model, task, task.val_set(), 0, dtype="float64")
    assert model.training
    assert torch.equal(torch.get_rng_state(), rng)
    for p, g, w in zip(model.parameters(), grads, weights, strict=True):
        assert torch.equal(p.grad, g) and torch.equal(p.detach(), w)
