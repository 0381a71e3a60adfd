"""The whole-sequence kernels (``models.kernels.lstm_family``, ``.gru_family``): equal to the
cells' own ``step`` (which the probes run, and which other tests check by hand and against
PyTorch's cells) to 1e-10 in float64, gradients included, zoneout with the same masks; equal to
PyTorch's fused layers in float32; used by the engine exactly where they may be."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seqnet.models import (
    CIFGLSTMCell,
    FusedGRU,
    FusedLSTM,
    GRUCell,
    LayerNormGRUCell,
    LayerNormLSTMCell,
    LSTMCell,
    PeepholeLSTMCell,
)
from seqnet.models.cell import has_sequence_kernel, keep_mask
from seqnet.models.engine import Probes, unroll
from seqnet.models.kernels import native

KERNEL_CELLS = {
    "lstm": LSTMCell,
    "lstm_peephole": PeepholeLSTMCell,
    "lstm_layernorm": LayerNormLSTMCell,
    "lstm_cifg": CIFGLSTMCell,
    "gru": GRUCell,
    "gru_layernorm": LayerNormGRUCell,
}
BATCH, STEPS, INPUT, HIDDEN = 3, 9, 4, 5
F64 = torch.float64


def make_cells(cls: type, zoneout: float, bias: bool, training: bool) -> list:
    torch.manual_seed(0)
    cells = [
        cls(INPUT, HIDDEN, bias, zoneout=zoneout, dtype=F64),
        cls(HIDDEN, HIDDEN, bias, zoneout=zoneout, dtype=F64),
    ]
    with torch.no_grad():  # move the layer-norm gains and biases off their 1 and 0
        for cell in cells:
            for name, p in cell.named_parameters():
                if name.startswith(("gain", "bias_c")):
                    p.add_(0.3 * torch.randn_like(p))
    return [cell.train(training) for cell in cells]


def draw_masks(cls: type, zoneout: float) -> list[torch.Tensor]:
    """Each layer's keep masks in the kernels' layout: (time, 2, batch, hidden) for the LSTM
    (h's, c's), (time, batch, hidden) for the GRU."""
    torch.manual_seed(1)
    shape = (STEPS, 2, BATCH, HIDDEN) if "c" in cls.state_names else (STEPS, BATCH, HIDDEN)
    return [keep_mask(torch.empty(shape, dtype=F64), zoneout) for _ in range(2)]


def run(cells: list, masks: list | None, *, kernel: bool, monkeypatch) -> tuple:
    """Outputs, final states and the gradients of a fixed function of both w.r.t. the input,
    the initial states and every parameter, through the kernel or through ``step``."""
    torch.manual_seed(2)
    x = torch.randn(BATCH, STEPS, INPUT, dtype=F64, requires_grad=True)
    n_states = len(cells[0].state_names)
    hx = [
        tuple(torch.randn(BATCH, HIDDEN, dtype=F64, requires_grad=True) for _ in range(n_states))
        for _ in cells
    ]
    with monkeypatch.context() as m:
        if masks is not None and kernel:  # the kernels draw one tensor per layer
            layer_masks = iter(masks)
            for module in ("lstm_family", "gru_family"):
                m.setattr(
                    f"seqnet.models.kernels.{module}.keep_mask", lambda *a, **k: next(layer_masks)
                )
        if masks is not None and not kernel:  # step draws per step: h's (then c's) mask
            for cell, mask in zip(cells, masks, strict=True):
                per_step = iter(mask.reshape(-1, BATCH, HIDDEN))
                m.setattr(
                    cell, "zone", lambda prev, new, s=per_step: torch.lerp(new, prev, next(s))
                )
        # With probes the engine steps (they need every state in the autograd graph).
        probes = None if kernel else Probes()
        out, finals = unroll(cells, x, hx, training=cells[0].training, probes=probes)
    weights = torch.linspace(-1, 1, out.numel(), dtype=F64).reshape(out.shape)
    loss = (out * weights).sum() + sum((s**2).sum() for state in finals for s in state)
    inputs = [x, *(s for state in hx for s in state), *(p for c in cells for p in c.parameters())]
    return out, finals, torch.autograd.grad(loss, inputs)


CASES = [  # zoneout, bias, training
    pytest.param(0.0, True, True, id="plain"),
    pytest.param(0.0, False, True, id="no_bias"),
    pytest.param(0.3, True, True, id="zoneout_training"),
    pytest.param(0.3, True, False, id="zoneout_evaluation"),
]


@pytest.fixture(params=["native", "pytorch"])
def implementation(request, monkeypatch) -> str:
    """Each kernel twice: its C++ form (``models.kernels.native``) and its pure-PyTorch one."""
    if request.param == "native":
        if native.compiler() is None:
            pytest.skip("no C++ compiler: the C++ kernels cannot be built here")
        monkeypatch.setenv(native.ENABLE_ENV, "1")
        assert native.applies(torch.zeros(1)), "the C++ kernels did not build (see the log)"
    else:
        monkeypatch.setenv(native.ENABLE_ENV, "0")
        assert not native.applies(torch.zeros(1))
    return request.param


@pytest.mark.parametrize(("zoneout", "bias", "training"), CASES)
@pytest.mark.parametrize("name", list(KERNEL_CELLS))
def test_kernel_equals_the_cells_step(
    name, zoneout, bias, training, implementation, monkeypatch
) -> None:
    cls = KERNEL_CELLS[name]
    cells = make_cells(cls, zoneout, bias, training)
    masks = draw_masks(cls, zoneout) if zoneout and training else None
    out_k, finals_k, grads_k = run(cells, masks, kernel=True, monkeypatch=monkeypatch)
    out_s, finals_s, grads_s = run(cells, masks, kernel=False, monkeypatch=monkeypatch)
    torch.testing.assert_close(out_k, out_s, rtol=0, atol=1e-10)
    for state_k, state_s in zip(finals_k, finals_s, strict=True):
        for a, b in zip(state_k, state_s, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-10)
    n_params = sum(1 for cell in cells for _ in cell.parameters())
    assert len(grads_k) == len(grads_s) == 1 + 2 * len(cls.state_names) + n_params
    for a, b in zip(grads_k, grads_s, strict=True):
        assert a.abs().max() > 0  # every input and parameter gets a gradient
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize(("ours", "theirs"), [(FusedLSTM, nn.LSTM), (FusedGRU, nn.GRU)])
def test_kernels_equal_pytorchs_fused_layers_in_float32(
    ours: type, theirs: type, implementation: str
) -> None:
    """Two layers, batch first, a given state: outputs, final states and parameter gradients
    norm-wise within 1e-5 of PyTorch's fused layer with the same weights."""
    torch.manual_seed(0)
    reference = theirs(INPUT, 32, 2, batch_first=True)
    core = ours(INPUT, 32, 2, batch_first=True, backend="stepped")
    core.load_state_dict(reference.state_dict())
    x = torch.randn(8, 50, INPUT)
    hx = torch.randn(2, 8, 32)
    hx = (hx, torch.randn(2, 8, 32)) if theirs is nn.LSTM else hx
    results = []
    for module in (core, reference):
        out, h_n = module(x, hx)
        h_n = h_n if isinstance(h_n, tuple) else (h_n,)
        loss = (out * torch.linspace(-1, 1, out.numel()).reshape(out.shape)).sum()
        loss = loss + sum((s**2).sum() for s in h_n)
        results.append((out, h_n, torch.autograd.grad(loss, list(module.parameters()))))
    (out_k, h_k, grads_k), (out_r, h_r, grads_r) = results
    assert relative_error(out_k, out_r) < 1e-5
    for a, b in zip(h_k, h_r, strict=True):
        assert relative_error(a, b) < 1e-5
    for a, b in zip(grads_k, grads_r, strict=True):
        assert relative_error(a, b) < 1e-5


class StepOnlyLSTM(LSTMCell):
    """A user's variant: changes ``step``, inherits ``sequence``."""

    def step(self, x_proj, state, probe=None):
        return super().step(2 * x_proj, state, probe)


def test_only_a_class_that_defines_sequence_itself_has_a_kernel() -> None:
    for cls in KERNEL_CELLS.values():
        assert has_sequence_kernel(cls(2, 3))
    # A user's subclass inherits LSTMCell.sequence but not its equations.
    assert not has_sequence_kernel(StepOnlyLSTM(2, 3))
    torch.manual_seed(0)
    cell = StepOnlyLSTM(2, 3, dtype=F64)
    x = torch.randn(4, 6, 2, dtype=F64)
    out, _ = unroll([cell], x)
    stepped, _ = unroll([cell], x, probes=Probes())
    torch.testing.assert_close(out, stepped, rtol=0, atol=0)  # its own step ran
    plain = LSTMCell(2, 3, dtype=F64)
    plain.load_state_dict(cell.state_dict())
    assert (unroll([plain], x)[0] - out).abs().max() > 1e-3


def test_the_engine_steps_with_probes_and_under_autocast(monkeypatch) -> None:
    cell = LSTMCell(2, 3)
    x = torch.randn(4, 6, 2)

    def refuse(*args, **kwargs):
        raise AssertionError("the kernel ran")

    monkeypatch.setattr(LSTMCell, "sequence", refuse)
    with pytest.raises(AssertionError, match="the kernel ran"):
        unroll([cell], x)
    unroll([cell], x, probes=Probes())
    with torch.autocast("cpu", dtype=torch.bfloat16):  # autocast casts per operation
        out, _ = unroll([cell], x)
    assert out.shape == (4, 6, 3) and out.isfinite().all()


def test_keep_mask_keeps_each_unit_with_probability_p() -> None:
    torch.manual_seed(0)
    like = torch.empty(1001, 999)  # an odd number of units: the last int64 draw is split
    for p in (0.05, 0.3, 0.9):
        mask = keep_mask(like, p)
        assert mask.shape == like.shape and mask.dtype == like.dtype
        assert set(mask.unique().tolist()) == {0.0, 1.0}
        # within 5 standard deviations of p over 1,000,000 units
        assert abs(mask.mean().item() - p) < 5 * (p * (1 - p) / like.numel()) ** 0.5
    assert keep_mask(like, 0.0).sum() == 0
    torch.manual_seed(5)
    first = keep_mask(torch.empty(7, 3, dtype=F64), 0.5)
    torch.manual_seed(5)
    assert first.dtype == F64 and torch.equal(first, keep_mask(torch.empty(7, 3, dtype=F64), 0.5))
