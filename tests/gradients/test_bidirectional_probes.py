"""Exactness of the per-direction gradient probes of bidirectional models (``h_l0_fwd``,
``h_l0_bwd``, ...): every model's profile against the textbook equations run forwards and
backwards with every state retained (``unrolled_bidirectional`` in tests/helpers/references.py),
on a many-to-one and an aligned many-to-many task, and the encoder-decoder with a bidirectional
encoder, in float64 to 1e-10 as the unidirectional probes are."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.references import STEPS, state_gradient_norms, unrolled, unrolled_bidirectional
from helpers.tasks import EchoTask
from seqnet.data import build_task
from seqnet.data.task import Batch
from seqnet.gradients import measure_profile
from seqnet.models import build_model

pytestmark = pytest.mark.usefixtures("one_thread")


def reference_norms(name, model, task, x, y, last_only, options):
    """The reference's per-state gradient norms of the summed per-sequence loss. The read-out is
    written out here: many-to-one reads the forward state at t=T-1 beside the backward state
    after its last step (input step 0), aligned many-to-many both directions at every step."""
    e = model.encoder(x)
    out, states = unrolled_bidirectional(name, model.core, e, **options)
    top = model.core.num_layers - 1
    if model.head.mode == "last":
        read = torch.cat((states[f"h_l{top}_fwd"][-1], states[f"h_l{top}_bwd"][-1]), dim=-1)
    else:
        read = out
    pred = read @ model.head.linear.weight.T + model.head.linear.bias
    loss = task.sequence_loss(pred, y, last_only=last_only).sum()
    return {q: v.numpy() for q, v in state_gradient_norms(loss, states, {"x": e}).items()}


CASES = [(name, 2) for name in STEPS] + [("rnn", 1), ("lstm", 1)]


@pytest.mark.parametrize(("name", "layers"), CASES, ids=[f"{n}_{k}layers" for n, k in CASES])
def test_bidirectional_probes_equal_the_reference(name, layers):
    torch.manual_seed(0)
    adding = build_task({"name": "adding", "seq_len": 6, "val_size": 3})
    echo = EchoTask(seq_len=6, n=3)
    states = ("h", "c") if name.startswith("lstm") else ("h",)
    expected_names = ["x"] + [
        f"{s}_l{k}_{d}" for k in range(layers) for d in ("fwd", "bwd") for s in states
    ]
    for task, loss in ((adding, "last"), (echo, "total")):
        config = {"name": name, "hidden_size": 4, "num_layers": layers, "bidirectional": True}
        model = build_model(config, task.spec)
        x, y = task.val_set()
        profile = measure_profile(model, task, Batch(x, y), step=0, dtype="float64", loss=loss)
        assert list(profile.norms) == model.probe_names == expected_names
        model = model.double().eval()
        expected = reference_norms(name, model, task, x.double(), y.double(), loss == "last", {})
        for q, ref in expected.items():
            np.testing.assert_allclose(profile.norms[q], ref, rtol=1e-10, err_msg=q)
            assert np.all(ref > 0), q
        # The model's own forward pass (training path) gives the reference's prediction.
        if task is adding:
            pred = model(x.double())[0]
            _, ref_states = unrolled_bidirectional(name, model.core, model.encoder(x.double()))
            top = layers - 1
            read = torch.cat(
                (ref_states[f"h_l{top}_fwd"][-1], ref_states[f"h_l{top}_bwd"][-1]), dim=-1
            )
            torch.testing.assert_close(pred, model.head.linear(read), rtol=0, atol=1e-12)


def test_bidirectional_profile_indexes_each_direction_by_its_own_steps():
    """Many-to-one: the loss reads the forward state at t=T-1 and the backward state at input
    step 0, the last step of each direction; both profiles are largest at their own last index
    (the backward one's index k is input step T-1-k), so the summaries read the same way."""
    torch.manual_seed(4)
    task = build_task({"name": "adding", "seq_len": 12, "val_size": 8})
    model = build_model({"name": "rnn", "hidden_size": 6, "bidirectional": True}, task.spec)
    profile = measure_profile(model, task, task.val_set(), step=0, dtype="float64")
    for q in ("h_l0_fwd", "h_l0_bwd"):
        norms = profile.norms[q]
        assert np.argmax(norms) == len(norms) - 1, q
        assert profile.summary(q, 1e-3)["log10_ratio"] < 0, q


def test_bidirectional_encoder_decoder_probes_match_the_textbook():
    """A bidirectional encoder (gru, 2 layers) whose final states, bridged by
    tanh(W [forward; backward] + b) per layer, start a one-direction decoder."""
    torch.manual_seed(0)
    task = build_task({"name": "seq2seq", "max_digits": 3, "val_size": 4})
    config = {"name": "gru", "hidden_size": 5, "num_layers": 2, "bidirectional": True}
    model = build_model(config, task.spec)
    assert not model.decoder.core.bidirectional
    x, y = task.val_set()
    profile = measure_profile(model, task, Batch(x, y), step=3, dtype="float64", loss="total")

    model = model.double()
    e = model.encoder(x)
    _, enc = unrolled_bidirectional("gru", model.encoder_core, e)
    W, b = model.bridge[0].weight, model.bridge[0].bias
    start = torch.stack(
        [
            torch.tanh(torch.cat((enc[f"h_l{k}_fwd"][-1], enc[f"h_l{k}_bwd"][-1]), -1) @ W.T + b)
            for k in range(2)
        ]
    )
    shifted = torch.cat(
        (torch.full_like(y[:, :1], task.spec.output_size), y[:, :-1].clamp(min=0)), 1
    )
    out, dec = unrolled("gru", model.decoder.core, model.decoder.encoder(shifted), start)
    total = task.sequence_loss(model.decoder.head(out), y, last_only=False).sum()
    states = {f"enc_{k}": v for k, v in enc.items()} | {f"dec_{k}": v for k, v in dec.items()}
    reference = state_gradient_norms(total, states, {"x": e})

    assert list(profile.norms) == model.probe_names
    assert set(profile.norms) == set(reference)
    assert {"enc_h_l0_fwd", "enc_h_l1_bwd", "dec_h_l1"} <= set(profile.norms)
    for q, ref in reference.items():
        np.testing.assert_allclose(profile.norms[q], ref.numpy(), rtol=1e-10, err_msg=q)
    # The decoder's loss reaches every input step of both directions through the bridge.
    for q in ("x", "enc_h_l0_fwd", "enc_h_l0_bwd", "enc_h_l1_fwd", "enc_h_l1_bwd"):
        assert np.all(profile.norms[q] > 0), q
    # Generation runs from the bridged state too (greedy decoding, the sampler's path).
    assert model.generate(x).shape == (len(x), task.spec.output_len)
