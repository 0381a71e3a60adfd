"""Gradient probes against closed-form values: weights chosen so that the derivative through
time is known exactly (pure decay, a saturated LSTM cell, a GRU that copies its state), down to
where float32 and float64 reach zero. Each runs with the denormal flush on (as in training) and
off."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import Tensor

from seqnet.data import Task, TaskSpec, build_task
from seqnet.data.task import Batch
from seqnet.gradients import measure_profile
from seqnet.models import SequenceModel, build_model

HIDDEN = 4
#: Head weights with a round norm: ||(1, 2, 2, 4)|| = 5.
HEAD = (1.0, 2.0, 2.0, 4.0)


class ConstantTarget(Task):
    """Many-to-one task whose target is always 0.5: a model that predicts 0 has dL/dpred = -1
    for every sequence, so dL/dh_T-1 = -(head weights), with no batch statistics involved."""

    spec = TaskSpec(input_size=2, output_size=1, input_kind="real", output_mode="last")

    def __init__(self, seq_len: int, n: int = 3) -> None:
        super().__init__(batch_size=n)
        x = torch.randn(n, seq_len, 2, generator=torch.Generator().manual_seed(0))
        self._val = Batch(x, torch.full((n,), 0.5))

    def val_set(self) -> Batch:
        return self._val

    def sequence_loss(self, pred: Tensor, y: Tensor, last_only: bool = True) -> Tensor:
        return (pred.squeeze(-1) - y) ** 2


def model_for(task: Task, name: str, head: tuple[float, ...], **options) -> SequenceModel:
    """A one-layer model reading the raw inputs (no encoder), head bias 0."""
    model = build_model(
        {"name": name, "hidden_size": HIDDEN, "encoder_size": None, **options}, task.spec
    )
    with torch.no_grad():
        model.head.linear.weight.copy_(torch.tensor([head]))
        model.head.linear.bias.zero_()
    return model


def decaying_rnn(task: Task) -> SequenceModel:
    """tanh RNN with W_ih = 0 and zero biases (h_t stays 0, so tanh' = 1) and W_hh = I/4:
    dL/dh_t = 4^-(T-1-t) dL/dh_T-1, powers of two that are exact in every float format."""
    model = model_for(task, "rnn", (1.0,) * HIDDEN, nonlinearity="tanh")
    core = model.core
    with torch.no_grad():
        core.weight_ih_l0.zero_()
        core.bias_ih_l0.zero_()
        core.bias_hh_l0.zero_()
        core.weight_hh_l0.copy_(0.25 * torch.eye(HIDDEN))
    return model


def decay_profile(seq_len: int, dtype: str) -> np.ndarray:
    task = ConstantTarget(seq_len)
    return measure_profile(decaying_rnn(task), task, task.val_set(), 0, dtype=dtype).norms["h_l0"]


def test_float64_decay_is_exact_far_below_1e_154(flush_denormal):
    """||dL/dh_t|| = ||(1,1,1,1)|| 4^-k = 2^(1-2k), k = T-1-t steps from the end: exact down to
    2^-997 (7e-301). A plain norm squares the entries, and anything below ~1e-154 squares below
    the smallest normal float64: it read 0 from there on."""
    T = 500
    norms = decay_profile(T, "float64")
    k = np.arange(T - 1, -1, -1)
    np.testing.assert_array_equal(norms, np.ldexp(1.0, 1 - 2 * k))
    assert norms[0] == 2.0**-997 and norms[0] < 1e-300
    # 2^-531 = 1.5e-160 (k = 266), 2^-533 = 3.7e-161 (k = 267): 233 timesteps below 1e-160.
    assert np.count_nonzero(norms < 1e-160) == T - 267 == 233


@pytest.mark.parametrize(
    ("dtype", "seq_len", "smallest_normal_k", "smallest_denormal_k"),
    [
        # float32: 4^-63 = 2^-126 is its smallest normal number, 4^-74 = 2^-148 a denormal
        # (the smallest is 2^-149); 4^-75 = 2^-150 rounds to 0.
        ("float32", 80, 63, 74),
        # float64: 2^-1022 is the smallest normal, 2^-1074 the smallest denormal.
        ("float64", 560, 511, 537),
    ],
)
def test_decay_reaches_the_zero_floor_of_the_dtype(
    flush_denormal, dtype, seq_len, smallest_normal_k, smallest_denormal_k
):
    """The entries 4^-k of dL/dh_t are exact until they leave the dtype's range; then they are
    exactly 0: below the smallest normal number with the denormal flush, below the smallest
    denormal without it."""
    norms = decay_profile(seq_len, dtype)
    k = np.arange(seq_len - 1, -1, -1)
    last = smallest_normal_k if flush_denormal else smallest_denormal_k
    expected = np.where(k <= last, np.ldexp(1.0, 1 - 2 * k), 0.0)
    np.testing.assert_array_equal(norms, expected)
    assert np.count_nonzero(norms == 0) == seq_len - 1 - last


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lstm_saturated_forget_gate_keeps_dl_dc_flat(flush_denormal, dtype):
    """Forget gate at 1, input gate at 0, output gate at 1 (biases of +-100 saturate the
    sigmoids, so their derivatives are 0): c_t = c_t-1, and the total derivative dL/dc_t is
    dL/dc_T-1 = dL/dh_T-1 = -(head weights) at every t, whatever W_hh and the inputs are."""
    T = 40
    task = ConstantTarget(T)
    model = model_for(task, "lstm", HEAD)
    core = model.core
    with torch.no_grad():
        i, f, g, o = (slice(k * HIDDEN, (k + 1) * HIDDEN) for k in range(4))
        core.bias_hh_l0.zero_()
        core.bias_ih_l0[i] = -100.0
        core.bias_ih_l0[f] = 100.0
        core.bias_ih_l0[g] = 0.0
        core.bias_ih_l0[o] = 100.0
    profile = measure_profile(model, task, task.val_set(), 0, dtype=dtype)
    np.testing.assert_array_equal(profile.norms["c_l0"], np.full(T, 5.0))
    assert profile.norms["h_l0"][-1] == 5.0
    summary = profile.summary("c_l0", 1e-3)
    assert summary["log10_ratio"] == 0.0 and summary["horizon"] == T


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gru_update_gate_at_one_copies_the_gradient(flush_denormal, dtype):
    """Update gate z = 1: h_t = h_t-1 (= 0), and dL/dh_t = dL/dh_T-1 = -(head weights) at every
    t; the candidate's path is multiplied by 1 - z = 0, so the input gets no gradient at all."""
    T = 40
    task = ConstantTarget(T)
    model = model_for(task, "gru", HEAD)
    with torch.no_grad():
        model.core.bias_hh_l0.zero_()
        model.core.bias_ih_l0.zero_()
        model.core.bias_ih_l0[HIDDEN : 2 * HIDDEN] = 100.0  # (reset, update, new)
    profile = measure_profile(model, task, task.val_set(), 0, dtype=dtype)
    np.testing.assert_array_equal(profile.norms["h_l0"], np.full(T, 5.0))
    np.testing.assert_array_equal(profile.norms["x"], np.zeros(T))
    assert profile.summary("x", 1e-3)["zero_steps"] == T


@pytest.mark.parametrize("a", [1.0, 0.8, 0.7, 0.5])
def test_relu_rnn_analytic_decay(a, flush_denormal):
    """ReLU RNN, W_hh = a*I, positive pre-activations: ||dL/dh_t|| = a^(T-1-t) ||dL/dh_T-1||."""
    T, H = 30, 4
    task = build_task({"name": "adding", "seq_len": T, "val_size": 8})
    model = build_model(
        {"name": "rnn", "nonlinearity": "relu", "hidden_size": H, "encoder_size": None},
        task.spec,
    )
    core = model.core
    with torch.no_grad():
        core.weight_hh_l0.copy_(a * torch.eye(H))
        core.bias_hh_l0.zero_()
        core.weight_ih_l0.fill_(0.1)  # inputs are >= 0, so every pre-activation is > 0
        core.bias_ih_l0.fill_(0.1)
    profile = measure_profile(model, task, task.val_set(), 0, dtype="float64")
    held = core.weight_hh_l0[0, 0].item()  # the float32 value of a that the model holds
    k = np.arange(T - 1, -1, -1)
    norms = profile.norms["h_l0"]
    np.testing.assert_allclose(norms / norms[-1], held**k, rtol=1e-12)
    summary = profile.summary("h_l0", 1e-3)
    assert summary["log10_ratio"] == pytest.approx((T - 1) * math.log10(held), abs=1e-9)
    # The horizon counts the k = 0, 1, ... with a^k >= 1e-3: 0.7^19 = 1.1e-3 > 1e-3 > 0.7^20 and
    # 0.5^9 = 2.0e-3 > 1e-3 > 0.5^10; 0.8^29 = 1.5e-3 never falls below within T = 30 steps.
    assert summary["horizon"] == {1.0: 30, 0.8: 30, 0.7: 20, 0.5: 10}[a]
