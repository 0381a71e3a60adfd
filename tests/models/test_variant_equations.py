"""The variants' equations against the textbook references (tests/helpers/references.py), layer
by layer and step by step, and one step of each by hand with the papers' formulas."""

from __future__ import annotations

import math

import pytest
import torch

from helpers.references import BATCH, INPUT, VARIANTS, make_core, random_hx, unrolled
from seqnet.models import MODEL_REGISTRY, build_core

STEPS_T = 6


def as_tuple(h):
    return h if isinstance(h, tuple) else (h,)


# ---------------------------------------------------------------------------- equations

CASES = [(name, {}) for name in VARIANTS] + [
    ("indrnn", {"nonlinearity": "tanh", "recurrent_max": 3}),  # |u| clipped to 2^(1/3)
    ("rnn", {"nonlinearity": "relu", "backend": "stepped"}),
    ("lstm", {"backend": "stepped"}),
    ("gru", {"backend": "stepped"}),
]


@pytest.mark.parametrize("with_hx", [True, False], ids=["hx", "no_hx"])
@pytest.mark.parametrize("batch_first", [True, False], ids=["batch_first", "time_first"])
@pytest.mark.parametrize(("name", "options"), CASES, ids=[f"{n}{o or ''}" for n, o in CASES])
def test_core_follows_the_papers_equations(name, options, batch_first, with_hx):
    """Two layers, float64: outputs and final states equal the reference equations to 1e-10."""
    torch.manual_seed(0)
    core = make_core(name, batch_first=batch_first, **options)
    x = torch.randn(BATCH, STEPS_T, INPUT, dtype=torch.float64)
    hx = random_hx(core) if with_hx else None
    reference = {k: v for k, v in options.items() if k in ("nonlinearity", "recurrent_max")}
    expected_out, states = unrolled(name, core, x, hx, **reference)

    out, h_n = core(x if batch_first else x.transpose(0, 1), hx)
    out = out if batch_first else out.transpose(0, 1)
    torch.testing.assert_close(out, expected_out, rtol=0, atol=1e-10)
    for k, s in enumerate(core.cell_class.state_names):
        for layer in range(core.num_layers):
            final = states[f"{s}_l{layer}"][-1]
            torch.testing.assert_close(as_tuple(h_n)[k][layer], final, rtol=0, atol=1e-10)


def scalar_step(
    name: str, h: float, c: float | None = None, options: dict | None = None, **weights
) -> list[float]:
    """One step of the 1-unit, 1-input core ``name`` with the given weights, from x = 0.8 and
    the state (h, c)."""
    core = build_core(MODEL_REGISTRY[name].cls, 1, 1, **(options or {})).double()
    with torch.no_grad():
        for pname, value in weights.items():
            getattr(core, f"{pname}_l0").copy_(torch.tensor(value, dtype=torch.float64))
    state = [h] if c is None else [h, c]
    hx = tuple(torch.tensor([[[v]]], dtype=torch.float64) for v in state)
    with torch.no_grad():
        _, h_n = core(torch.tensor([[[0.8]]], dtype=torch.float64), hx[0] if c is None else hx)
    return [float(v) for v in as_tuple(h_n)]


def test_one_step_of_each_variant_by_hand():
    """Scalars (hidden 1, input 1, x = 0.8) against the papers' formulas written out with math."""
    x, h, c = 0.8, 0.5, -0.25
    s, th = (lambda v: 1 / (1 + math.exp(-v))), math.tanh
    zero4 = {"bias_ih": [0.0] * 4, "bias_hh": [0.0] * 4}

    # Peephole LSTM, gates (i, f, g, o): W_ih = (1, 2, 3, 4), W_hh = 0.5, peepholes (.1, .2, .3).
    a = [w * x + 0.5 * h for w in (1.0, 2.0, 3.0, 4.0)]
    i, f = s(a[0] + 0.1 * c), s(a[1] + 0.2 * c)
    c_new = f * c + i * th(a[2])
    expected = [s(a[3] + 0.3 * c_new) * th(c_new), c_new]
    weights = {"weight_ih": [[1.0], [2.0], [3.0], [4.0]], "weight_hh": [[0.5]] * 4, **zero4}
    peep = {"weight_ci": [0.1], "weight_cf": [0.2], "weight_co": [0.3]}
    assert scalar_step("lstm_peephole", h, c, **weights, **peep) == pytest.approx(expected)

    # CIFG, gates (f, g, o): c = f c + (1 - f) g.
    a = [w * x + 0.5 * h for w in (1.0, 2.0, 3.0)]
    c_new = s(a[0]) * c + (1 - s(a[0])) * th(a[1])
    weights = {"weight_ih": [[1.0], [2.0], [3.0]], "weight_hh": [[0.5]] * 3}
    got = scalar_step("lstm_cifg", h, c, **weights, bias_ih=[0.0] * 3, bias_hh=[0.0] * 3)
    assert got == pytest.approx([s(a[2]) * th(c_new), c_new])

    # IndRNN: ReLU(W x + u h + b); with recurrent_max=T, u = 1.5 is clipped to 2^(1/T).
    weights = {"weight_ih": [[0.5]], "weight_hh": [1.5], "bias_ih": [0.1]}
    got = scalar_step("indrnn", h, **weights)
    assert got == pytest.approx([max(0.0, 0.5 * x + 1.5 * h + 0.1)])
    got = scalar_step("indrnn", h, options={"recurrent_max": 4}, **weights)
    assert got == pytest.approx([max(0.0, 0.5 * x + 2 ** (1 / 4) * h + 0.1)])

    # IRNN: ReLU(W x + b + U h + b').
    got = scalar_step("irnn", -h, weight_ih=[[0.5]], weight_hh=[[1.0]], bias_ih=[0.1], bias_hh=[0])
    assert got == pytest.approx([max(0.0, 0.5 * x - h + 0.1)])

    # minGRU: z = s(k_z), h = (1 - z) h + z g(k_h), g(v) = s(v) for v < 0.
    z, k_h = s(0.3 * x), -0.9 * x
    got = scalar_step("mingru", h, weight_ih=[[0.3], [-0.9]], bias_ih=[0.0, 0.0])
    assert got == pytest.approx([(1 - z) * h + z * s(k_h)])

    # minLSTM: f' = f / (f + i), h = f' h + (1 - f') g(k_h), g(v) = v + 1/2 for v >= 0.
    f, i, k_h = s(0.3 * x), s(-0.2 * x), 0.9 * x
    fp = f / (f + i)
    got = scalar_step("minlstm", h, weight_ih=[[0.3], [-0.2], [0.9]], bias_ih=[0.0] * 3)
    assert got == pytest.approx([fp * h + (1 - fp) * (k_h + 0.5)])
