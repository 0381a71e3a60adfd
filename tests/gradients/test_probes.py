"""Exactness of the gradient probes: every model's profile against the textbook equations
unrolled with every state retained (tests/helpers/references.py), on a many-to-one and a
many-to-many task, for both probe losses, in float64 and float32; and their bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.references import VARIANTS, state_gradient_norms, unrolled
from helpers.tasks import EchoTask
from seqnet.data import build_task
from seqnet.data.task import Batch
from seqnet.gradients import measure_profile
from seqnet.gradients.profiles import log10_floor
from seqnet.models import build_model


def reference_norms(name, options, model, task, x, y, last_only=True) -> dict[str, np.ndarray]:
    """The textbook equations unrolled with every state retained, and ``autograd.grad`` of the
    summed per-sequence loss with respect to each state (zoneout: its expectation, as in eval)."""
    e = model.encoder(x)
    reference = {k: v for k, v in options.items() if k in ("nonlinearity", "recurrent_max")}
    out, states = unrolled(name, model.core, e, zoneout=options.get("zoneout", 0.0), **reference)
    loss = task.sequence_loss(model.head(out), y, last_only=last_only).sum()
    return {q: v.numpy() for q, v in state_gradient_norms(loss, states, {"x": e}).items()}


#: (model, options, layers): the plain models, every variant, zoneout and some options.
CASES = [
    ("rnn", {"nonlinearity": "tanh"}, 1),
    ("rnn", {"nonlinearity": "relu"}, 1),
    ("rnn", {"nonlinearity": "tanh"}, 3),
    ("lstm", {}, 1),
    ("lstm", {}, 2),
    ("gru", {}, 1),
    ("gru", {}, 2),
    *((name, {}, 2) for name in VARIANTS),
    ("lstm", {"zoneout": 0.2}, 2),
    ("gru", {"zoneout": 0.2}, 2),
    ("lstm_layernorm", {"zoneout": 0.1, "chrono_tmax": 8}, 2),
    ("indrnn", {"recurrent_max": 4, "nonlinearity": "tanh"}, 2),
]
IDS = [f"{n}{o or ''}_{k}layers" for n, o, k in CASES]
PLAIN = [case for case in CASES if case[0] in ("rnn", "lstm", "gru") and not case[1].get("zoneout")]


def expected_quantities(name: str, layers: int) -> set[str]:
    cell_state = name.startswith("lstm")
    return {"x"} | {f"{s}_l{k}" for k in range(layers) for s in ("hc" if cell_state else "h")}


@pytest.mark.parametrize(("name", "options", "layers"), CASES, ids=IDS)
def test_probes_equal_the_reference(name, options, layers):
    """float64: the probes of the many-to-one adding problem and of the many-to-many toy task
    (loss at the last output, and summed) equal the reference to 1e-10."""
    torch.manual_seed(0)
    adding = build_task({"name": "adding", "seq_len": 7, "val_size": 5})
    echo = EchoTask(seq_len=6, n=4)
    for task, loss in ((adding, "last"), (echo, "last"), (echo, "total")):
        config = {"name": name, "hidden_size": 5, "num_layers": layers, **options}
        model = build_model(config, task.spec)
        x, y = task.val_set()
        profile = measure_profile(model, task, Batch(x, y), step=7, dtype="float64", loss=loss)
        assert profile.step == 7 and profile.dtype == "float64"
        model = model.double().eval()
        expected = reference_norms(
            name, options, model, task, x.double(), y.double(), loss == "last"
        )
        assert set(profile.norms) == set(expected) == expected_quantities(name, layers)
        for q, ref in expected.items():
            assert profile.norms[q].shape == (x.shape[1],)
            np.testing.assert_allclose(profile.norms[q], ref, rtol=1e-10, err_msg=q)
            assert np.all(ref[:-1] > 0)  # (with zoneout the last c feeds nothing: 0)


@pytest.mark.parametrize(
    ("name", "options", "layers"), PLAIN, ids=[f"{n}{o}_{k}" for n, o, k in PLAIN]
)
def test_float32_probes_equal_the_reference(name, options, layers, flush_denormal):
    """The probes in float32 (as training measures them), with the denormal flush on and off,
    against the float64 reference to 1e-5."""
    torch.manual_seed(0)
    task = build_task({"name": "adding", "seq_len": 15, "val_size": 6})
    config = {"name": name, "hidden_size": 10, "num_layers": layers, **options}
    model = build_model(config, task.spec)
    x, y = task.val_set()
    profile = measure_profile(model, task, Batch(x, y), step=0, dtype="float32")
    assert profile.dtype == "float32"
    expected = reference_norms(name, options, model.double(), task, x.double(), y.double())
    for q, ref in expected.items():
        np.testing.assert_allclose(profile.norms[q], ref, rtol=1e-5, err_msg=q)
        assert np.all(ref > 0)


def test_lstm_cell_probe_includes_path_through_h():
    """dL/dc_T-1 is not zero when the loss reads only h_T-1: c_T-1 reaches it through h_T-1."""
    torch.manual_seed(1)
    task = build_task({"name": "adding", "seq_len": 8, "val_size": 4})
    model = build_model({"name": "lstm", "hidden_size": 6}, task.spec)
    profile = measure_profile(model, task, task.val_set(), step=0, dtype="float64")
    assert profile.norms["c_l0"][-1] > 1e-3


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
