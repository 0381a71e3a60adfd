"""Zoneout (Krueger et al. 2017) in the engine: in evaluation each state is its expectation; in
training each unit keeps its previous value with probability zoneout, eager and compiled."""

from __future__ import annotations

import math

import pytest
import torch

from helpers.references import (
    BATCH,
    HIDDEN,
    INPUT,
    STEPS,
    layer_parameters,
    make_core,
    random_hx,
    unrolled,
)
from seqnet.models import LSTMCell

ZONEOUT_MODELS = ["lstm", "gru", "lstm_peephole", "lstm_cifg", "lstm_layernorm", "gru_layernorm"]
STEPS_T = 6


def as_tuple(h):
    return h if isinstance(h, tuple) else (h,)


@pytest.mark.parametrize("name", ZONEOUT_MODELS)
def test_zoneout_in_evaluation_is_its_expectation(name):
    """eval: each state is z * previous + (1 - z) * new (the LSTM's h from the un-zoned c)."""
    torch.manual_seed(3)
    core = make_core(name, zoneout=0.3).eval()
    x = torch.randn(BATCH, STEPS_T, INPUT, dtype=torch.float64)
    hx = random_hx(core)
    expected, _ = unrolled(name, core, x, hx, zoneout=0.3)
    out, _ = core(x, hx)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", ZONEOUT_MODELS)
def test_zoneout_in_training_keeps_units_at_random(name):
    """train: each unit is exactly its previous or its new value, kept with probability z; the
    average over many draws is the evaluation value (its expectation)."""
    torch.manual_seed(4)
    z, batch = 0.3, 2000
    core = make_core(name, layers=1, zoneout=z)
    x = torch.randn(1, 1, INPUT, dtype=torch.float64).expand(batch, 1, INPUT)
    hx = tuple(
        torch.randn(1, 1, HIDDEN, dtype=torch.float64).expand(1, batch, HIDDEN)
        for _ in core.cell_class.state_names
    )
    hx = hx[0] if len(hx) == 1 else hx
    previous = as_tuple(hx)[0][0]
    p = layer_parameters(core, 0)
    state = tuple(s[0] for s in as_tuple(hx))
    new = STEPS[name](p, x[:, 0], state, HIDDEN)[0]
    with torch.no_grad():
        out, _ = core.train()(x, hx)
        mean_eval = core.eval()(x, hx)[0]
    h = out[:, 0]
    kept = torch.isclose(h, previous, rtol=0, atol=1e-12)
    assert torch.all(kept | torch.isclose(h, new, rtol=0, atol=1e-12))
    assert abs(kept.double().mean().item() - z) < 4 * math.sqrt(z * (1 - z) / kept.numel())
    sd = (previous - new).abs().max().item() * math.sqrt(z * (1 - z) / batch)
    torch.testing.assert_close(h.mean(0), mean_eval[0, 0], rtol=0, atol=5 * sd)
    torch.manual_seed(5)
    a, _ = core.train()(x, hx)
    torch.manual_seed(5)
    b, _ = core(x, hx)
    assert torch.equal(a, b)  # masks come from the global generator


@pytest.mark.slow
def test_zoneout_in_a_compiled_step_keeps_a_fraction_zoneout_of_the_units():
    """Compiled, zoneout draws its masks in the graph (another random stream than eager, so not
    the eager numbers): every unit of the new state is either its previous value or the new
    one, and the fraction kept is zoneout (0.3 +- 0.03 over 4096 units, 4 standard errors).
    Before the compile-safe mask in ``Cell.zone`` the compiled step returned NaN."""
    from seqnet.models.engine import cell_method

    torch.manual_seed(0)
    cell = LSTMCell(4, 64, zoneout=0.3).double().train()
    x = cell.project_input(torch.randn(64, 4, dtype=torch.float64))
    state = (torch.randn(64, 64, dtype=torch.float64), torch.randn(64, 64, dtype=torch.float64))
    eager = LSTMCell(4, 64).double()
    eager.load_state_dict(cell.state_dict())
    h_new, c_new = LSTMCell.step(eager, x, state)  # no zoneout: the new values
    h, c = cell_method(LSTMCell, "step", True)(cell, x, state, None)
    for zoned, previous, new in ((h, state[0], h_new), (c, state[1], c_new)):
        kept = zoned == previous
        assert torch.all(kept | torch.isclose(zoned, new, rtol=1e-12, atol=0))  # (fused rounding)
        assert 0.27 < kept.double().mean().item() < 0.33
