"""Built models: their parameters by name and shape, the same names as PyTorch's layers (whose
state dicts load as they are), and the options every model has: dropout and the size ranges."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seqnet.data.tasks.adding import AddingProblem
from seqnet.models import FusedGRU, FusedLSTM, FusedRNN, build_model

SPEC = AddingProblem.spec


@pytest.mark.parametrize(
    ("name", "core_class", "reference", "gates"),
    [("rnn", FusedRNN, nn.RNN, 1), ("lstm", FusedLSTM, nn.LSTM, 4), ("gru", FusedGRU, nn.GRU, 3)],
)
def test_built_model_shapes_and_names(name: str, core_class: type, reference: type, gates: int):
    model = build_model({"name": name, "hidden_size": 6, "num_layers": 2, "encoder_size": 4}, SPEC)
    assert type(model.core) is core_class
    assert model.core.batch_first is True
    assert model.num_layers == 2
    shapes = {n: tuple(p.shape) for n, p in model.named_parameters()}
    assert shapes == {
        "encoder.weight": (4, 2),
        "encoder.bias": (4,),
        "core.weight_ih_l0": (gates * 6, 4),
        "core.weight_hh_l0": (gates * 6, 6),
        "core.bias_ih_l0": (gates * 6,),
        "core.bias_hh_l0": (gates * 6,),
        "core.weight_ih_l1": (gates * 6, 6),
        "core.weight_hh_l1": (gates * 6, 6),
        "core.bias_ih_l1": (gates * 6,),
        "core.bias_hh_l1": (gates * 6,),
        "head.linear.weight": (1, 6),
        "head.linear.bias": (1,),
    }
    pred, h_n = model(torch.rand(3, 7, 2))
    assert pred.shape == (3, 1)
    final_h = h_n[0] if name == "lstm" else h_n
    assert final_h.shape == (2, 3, 6)
    # The same names as torch.nn's layer, so its state_dict loads as is (strict).
    torch_layer = reference(4, 6, 2, batch_first=True)
    model.core.load_state_dict(torch_layer.state_dict())
    assert torch.equal(model.core.weight_hh_l1, torch_layer.weight_hh_l1)


# ---------------------------------------------------------------------------- options


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_dropout_needs_two_layers(name: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        build_model({"name": name, "dropout": 0.2, "num_layers": 1}, SPEC)
    assert str(excinfo.value) == (
        "model.dropout=0.2 acts only between recurrent layers, and model.num_layers=1 has none: "
        "set model.num_layers >= 2 or model.dropout=0"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"hidden_size": 0}, "model.hidden_size must be >= 1, got 0"),
        ({"num_layers": 0}, "model.num_layers must be >= 1, got 0"),
        ({"dropout": 1.0, "num_layers": 2}, "model.dropout must be in [0, 1), got 1.0"),
    ],
)
def test_option_ranges(options: dict, message: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        build_model({"name": "lstm", **options}, SPEC)
    assert str(excinfo.value) == message


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_dropout_acts_between_two_layers(name: str) -> None:
    torch.manual_seed(0)
    model = build_model({"name": name, "hidden_size": 16, "num_layers": 2, "dropout": 0.5}, SPEC)
    assert model.core.dropout == 0.5
    x = torch.rand(4, 9, 2)
    model.train()
    a, b = model(x)[0], model(x)[0]
    assert not torch.equal(a, b)  # a new dropout mask each call
    torch.manual_seed(7)
    c = model(x)[0]
    torch.manual_seed(7)
    d = model(x)[0]
    assert torch.equal(c, d)  # masks come from the global generator
    model.eval()
    assert torch.equal(model(x)[0], model(x)[0])
    # In eval mode the stepped engine matches the fused layer (dropout off in both).
    with torch.no_grad():
        features = model.encoder(x)
        fused, _ = model.core(features)
        stepped, _ = model.core.forward_stepped(features)
    torch.testing.assert_close(stepped, fused, rtol=0, atol=1e-5)
