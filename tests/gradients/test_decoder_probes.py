"""Exact gradient profiles on every shape: the probes of the encoder-decoder, the one-to-many
decoder and the one-to-one model against the independent textbook equations
(tests/helpers/references.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.references import final_states, state_gradient_norms, unrolled
from seqnet.data import build_task
from seqnet.data.task import Batch
from seqnet.gradients import measure_profile
from seqnet.models import build_model

pytestmark = pytest.mark.usefixtures("one_thread")

MODELS = [
    ({"name": "rnn", "nonlinearity": "tanh"}, 1),
    ({"name": "lstm"}, 2),
    ({"name": "gru"}, 2),
]


def textbook(model_cfg: dict, core, inputs: torch.Tensor, hx=None):
    """The top layer's outputs and every state of ``core``'s weights run through the reference
    equations from ``hx``."""
    options = {k: v for k, v in model_cfg.items() if k == "nonlinearity"}
    return unrolled(model_cfg["name"], core, inputs, hx, **options)


def prefixed(states: dict, prefix: str) -> dict:
    return {f"{prefix}{k}": v for k, v in states.items()}


def decoder_inputs(model, y: torch.Tensor) -> torch.Tensor:
    """Teacher forcing, written out: the start symbol (id output_size) or a zero value, then the
    targets shifted by one step (padding after the end token read as id 0: never scored)."""
    if y.is_floating_point():
        shifted = torch.cat((torch.zeros_like(y[:, :1]), y[:, :-1]), dim=1)
    else:
        start = torch.full_like(y[:, :1], model.spec.output_size)
        shifted = torch.cat((start, y[:, :-1].clamp(min=0)), dim=1)
    return model.decoder.encoder(shifted)


@pytest.mark.parametrize(("model_cfg", "layers"), MODELS)
@pytest.mark.parametrize("loss", ["last", "total"])
def test_encoder_decoder_probes_match_the_textbook(model_cfg, layers, loss) -> None:
    torch.manual_seed(0)
    task = build_task({"name": "seq2seq", "max_digits": 3, "val_size": 5})
    model = build_model({**model_cfg, "hidden_size": 6, "num_layers": layers}, task.spec)
    x, y = task.val_set()
    profile = measure_profile(model, task, Batch(x, y), step=3, dtype="float64", loss=loss)

    model = model.double()
    e = model.encoder(x)
    _, enc_states = textbook(model_cfg, model.encoder_core, e)
    enc_final = final_states(model.encoder_core, enc_states)
    out, dec_states = textbook(model_cfg, model.decoder.core, decoder_inputs(model, y), enc_final)
    total = task.sequence_loss(model.decoder.head(out), y, last_only=loss == "last").sum()
    states = {**prefixed(enc_states, "enc_"), **prefixed(dec_states, "dec_")}
    reference = state_gradient_norms(total, states, {"x": e})

    assert list(profile.norms) == model.probe_names
    assert set(profile.norms) == set(reference)
    assert profile.norms["x"].shape == (3,) and profile.norms["enc_h_l0"].shape == (3,)
    assert profile.norms["dec_h_l0"].shape == (task.spec.output_len,)
    for q, ref in reference.items():
        np.testing.assert_allclose(profile.norms[q], ref.numpy(), rtol=1e-10, err_msg=q)
    # The decoder's loss reaches every input step through the encoder's final state.
    assert np.all(profile.norms["enc_h_l0"] > 0) and np.all(profile.norms["x"] > 0)


@pytest.mark.parametrize(("model_cfg", "layers"), MODELS)
@pytest.mark.parametrize(
    "task_cfg", [{"name": "digit_caption"}, {"name": "sine_gen", "seq_len": 7}]
)
def test_vector_decoder_probes_match_the_textbook(model_cfg, layers, task_cfg) -> None:
    torch.manual_seed(1)
    task = build_task({**task_cfg, "batch_size": 4})
    model = build_model({**model_cfg, "hidden_size": 5, "num_layers": layers}, task.spec)
    x, y = task.probe_batch(6)
    profile = measure_profile(model, task, Batch(x, y), step=0, dtype="float64", loss="total")

    model = model.double()
    y = y.double() if y.is_floating_point() else y
    e = model.encoder(x.double())
    # The initial state: tanh of a linear map of the encoded vector, laid out as
    # (state, layer, hidden) per example.
    H = model.decoder.core.hidden_size
    flat = torch.tanh(e[:, 0] @ model.state_map.weight.T + model.state_map.bias)
    names = model.decoder.core.cell_class.state_names
    initial = tuple(
        torch.stack(
            [flat[:, (i * layers + k) * H : (i * layers + k + 1) * H] for k in range(layers)]
        )
        for i, _ in enumerate(names)
    )
    out, states = textbook(model_cfg, model.decoder.core, decoder_inputs(model, y), initial)
    total = task.sequence_loss(model.decoder.head(out), y, last_only=False).sum()
    reference = state_gradient_norms(total, states, {"x": e})

    assert list(profile.norms) == model.probe_names
    assert set(profile.norms) == set(reference)
    assert profile.norms["x"].shape == (1,)
    for q, ref in reference.items():
        np.testing.assert_allclose(profile.norms[q], ref.numpy(), rtol=1e-10, err_msg=q)


@pytest.mark.parametrize(("model_cfg", "layers"), MODELS)
def test_one_to_one_probe_is_a_single_step(model_cfg, layers) -> None:
    torch.manual_seed(2)
    task = build_task({"name": "digits"})
    model = build_model({**model_cfg, "hidden_size": 6, "num_layers": layers}, task.spec)
    x, y = task.probe_batch(8)
    profile = measure_profile(model, task, Batch(x, y), step=0, dtype="float64")
    model = model.double()
    e = model.encoder(x.double())
    out, states = textbook(model_cfg, model.core, e)
    total = task.sequence_loss(model.head(out), y).sum()
    reference = state_gradient_norms(total, states, {"x": e})
    assert {q: v.shape for q, v in profile.norms.items()} == {q: (1,) for q in reference}
    for q, ref in reference.items():
        np.testing.assert_allclose(profile.norms[q], ref.numpy(), rtol=1e-10, err_msg=q)
