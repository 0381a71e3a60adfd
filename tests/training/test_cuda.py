"""The GPU path: skipped where CUDA is unavailable (CI has no GPU); run on a GPU machine with
``pytest tests/training/test_cuda.py`` (``scripts/gpu_check.sh`` runs it with the benchmarks).

- the engine on CUDA against cuDNN's fused layers (float64 to 1e-10, float32 to 1e-5);
- every registered model on CUDA against the same model on the CPU, outputs and parameter
  gradients, so minGRU/minLSTM's log-space scan (the GPU form) is checked against the CPU's
  linear-space one;
- gradient probes measured on CUDA against the CPU's, float64;
- ``train()`` on CUDA: resume equals the uninterrupted run bit for bit, and the mixed precisions
  train with their probes in full precision.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from helpers.runs import assert_state_equal, eager_and_compiled, last_ckpt, scalars, tiny
from seqnet.data import build_task
from seqnet.gradients import load_gradients, measure_profile
from seqnet.models import MODEL_REGISTRY, FusedGRU, FusedLSTM, FusedRNN, build_model
from seqnet.training.loop import train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

CUDA = torch.device("cuda")
FUSED = {
    "rnn": (FusedRNN, {"nonlinearity": "tanh"}),
    "lstm": (FusedLSTM, {}),
    "gru": (FusedGRU, {}),
}


def state_tuple(h) -> tuple[torch.Tensor, ...]:
    return h if isinstance(h, tuple) else (h,)


@pytest.mark.parametrize(("dtype", "tol"), [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("kind", list(FUSED))
def test_engine_on_cuda_equals_cudnn(kind: str, num_layers: int, dtype, tol: float) -> None:
    """Outputs, final states and parameter gradients of the step-by-step engine against cuDNN
    on the same GPU (TF32 off, so float32 is float32 on both sides). Outputs and states agree
    to ``tol`` elementwise; float32 weight gradients, sums over batch and time that cuDNN adds
    in another order, to ``tol`` relative to their norm (elementwise, small entries differed by
    up to 3e-4 relative on an H200)."""
    fused_class, options = FUSED[kind]
    torch.manual_seed(0)
    core = fused_class(3, 6, num_layers, batch_first=True, **options).to(CUDA, dtype)
    x = torch.randn(4, 9, 3, device=CUDA, dtype=dtype)
    params = list(core.parameters())
    with torch.backends.cudnn.flags(enabled=True, allow_tf32=False):
        out_fused, h_fused = core(x)
        g_fused = torch.autograd.grad(out_fused.square().sum(), params)
    out_step, h_step = core.forward_stepped(x)
    g_step = torch.autograd.grad(out_step.square().sum(), params)

    torch.testing.assert_close(out_step, out_fused, rtol=0, atol=tol)
    for a, b in zip(state_tuple(h_step), state_tuple(h_fused), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=tol)
    for a, b in zip(g_step, g_fused, strict=True):
        assert (a - b).norm() <= tol * b.norm()


@pytest.mark.parametrize("name", sorted(MODEL_REGISTRY))
def test_every_model_on_cuda_equals_the_cpu(name: str) -> None:
    """float64, 2 layers, training mode: the same weights and batch on CUDA and on the CPU give
    the same outputs and parameter gradients to 1e-10 (on the GPU the fused models run cuDNN and
    the scan models the log-space scan; on the CPU the linear-space scan)."""
    torch.manual_seed(0)
    task = build_task({"name": "adding", "seq_len": 15, "val_size": 6})
    cpu = build_model({"name": name, "hidden_size": 8, "num_layers": 2}, task.spec).double()
    gpu = copy.deepcopy(cpu).to(CUDA)
    x = task.val_set()[0].double()

    results = []
    for model, batch in ((cpu, x), (gpu, x.to(CUDA))):
        pred, _ = model.train()(batch)
        grads = torch.autograd.grad(pred.square().sum(), list(model.parameters()))
        results.append((pred.cpu(), [g.cpu() for g in grads]))
    (pred_cpu, grads_cpu), (pred_gpu, grads_gpu) = results
    torch.testing.assert_close(pred_gpu, pred_cpu, rtol=0, atol=1e-10)
    for a, b in zip(grads_gpu, grads_cpu, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru", "lstm_layernorm", "indrnn", "minlstm"])
def test_probes_on_cuda_equal_the_cpu(name: str) -> None:
    """A float64 gradient profile (T=40, 2 layers) measured on CUDA equals the CPU's to 1e-9,
    quantity by quantity and timestep by timestep."""
    torch.manual_seed(0)
    task = build_task({"name": "adding", "seq_len": 40, "val_size": 8})
    cpu = build_model({"name": name, "hidden_size": 8, "num_layers": 2}, task.spec)
    gpu = copy.deepcopy(cpu).to(CUDA)
    x, y = task.val_set()
    on_cpu = measure_profile(cpu, task, (x, y), step=0, dtype="float64")
    on_gpu = measure_profile(gpu, task, (x.to(CUDA), y.to(CUDA)), step=0, dtype="float64")
    assert set(on_gpu.norms) == set(on_cpu.norms)
    for q, values in on_cpu.norms.items():
        assert np.all(values[:-1] > 0)
        np.testing.assert_allclose(on_gpu.norms[q], values, rtol=1e-9, err_msg=q)


@pytest.mark.slow
@pytest.mark.parametrize(
    "model",
    [
        ["model=lstm", "model.num_layers=2"],  # cuDNN
        # The engine's dropout and zoneout masks come from the CUDA generator, which resumes.
        # (cuDNN's own dropout does not: its random state is inside cuDNN; an H200 run resumed
        # with other weights. A resume warns of it: tests/training/test_resume.py.)
        ["model=lstm", "model.num_layers=2", "model.dropout=0.3", "model.backend=stepped"],
        ["model=gru", "model.zoneout=0.2"],
        ["model=minlstm"],  # the log-space scan
    ],
    ids=["lstm_cudnn", "lstm_engine_dropout", "gru_zoneout", "minlstm"],
)
def test_resume_on_cuda_equals_uninterrupted_run(tmp_path: Path, model: list[str]) -> None:
    on_gpu = [*model, "trainer.device=cuda"]
    full = train(tiny(tmp_path, "full", *on_gpu))
    train(tiny(tmp_path, "half", *on_gpu, "trainer.max_steps=3"))
    half_ckpt = tmp_path / "half" / "checkpoints" / "last.pt"
    resumed = train(tiny(tmp_path, "resumed", *on_gpu, f"ckpt_path={half_ckpt}"))

    a, b = last_ckpt(tmp_path / "full"), last_ckpt(tmp_path / "resumed")
    assert {t.device.type for t in a["model"].values()} == {"cuda"}
    assert_state_equal(a["model"], b["model"])
    assert_state_equal(a["optimizer"], b["optimizer"])
    assert resumed == full
    assert (
        scalars(tmp_path / "resumed")["train/loss"] == scalars(tmp_path / "full")["train/loss"][3:]
    )


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
def test_mixed_precision_on_cuda(tmp_path: Path, precision: str) -> None:
    """40 steps at lr 0.01: it learns, lands within 10% of float32's validation loss, skips no
    step, keeps float32 weights, and its probes (float32, outside autocast) equal the same probe
    measured again on the final weights."""
    learn = ["trainer.max_steps=40", "optim.lr=0.01", "grad_log.every_n_steps=20"]
    base = ["trainer.device=cuda", *learn]
    fp32 = train(tiny(tmp_path, "fp32", *base))
    mixed = train(tiny(tmp_path, "mixed", *base, f"trainer.precision={precision}"))

    losses = [v for _, v in scalars(tmp_path / "mixed")["train/loss"]]
    assert mixed["val/loss"] < losses[0] / 2
    assert mixed["val/loss"] == pytest.approx(fp32["val/loss"], rel=0.1)
    assert mixed["val/loss"] != fp32["val/loss"]
    assert mixed["nonfinite_steps"] == 0
    if precision == "16-mixed":  # the GradScaler's back-offs are not non-finite steps
        scales = [v for _, v in scalars(tmp_path / "mixed")["train/loss_scale"]]
        assert len(scales) == 40 and {math.log2(v) % 1 for v in scales} == {0.0}
        assert scales[-1] < 2.0**16  # it backed off from its initial 65536 at least once
    ckpt = last_ckpt(tmp_path / "mixed")
    assert all(t.dtype == torch.float32 for t in ckpt["model"].values())

    steps, norms, meta = load_gradients(tmp_path / "mixed" / "gradients.npz")
    assert steps.tolist() == [0, 20, 40] and meta["dtype"] == "float32"
    cfg = tiny(tmp_path, "again", *base)
    task = build_task(cfg.data, CUDA)
    model = build_model(cfg.model, task.spec).to(CUDA)
    model.load_state_dict(ckpt["model"])
    x, y = task.val_set()
    batch = (x[: cfg.grad_log.batch_size], y[: cfg.grad_log.batch_size])
    again = measure_profile(model, task, batch, 40, dtype="float32").norms
    for q, values in again.items():
        np.testing.assert_allclose(norms[q][-1], values, rtol=1e-6, err_msg=q)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lstm_layernorm", "mingru"])
def test_model_compile_on_cuda_trains_the_same_function(name: str) -> None:
    """model.compile=true on the GPU (Triton kernels): outputs and parameter gradients equal
    the eager model's in float64 to 1e-10, over two passes (the second reuses the graphs)."""
    torch.manual_seed(4)
    x = torch.randn(4, 30, 2, dtype=torch.float64, device=CUDA)
    config = {"name": name, "hidden_size": 8, "num_layers": 2}
    (out_a, g_a), (out_b, g_b) = eager_and_compiled(config, x, passes=2)
    torch.testing.assert_close(out_b, out_a, rtol=0, atol=1e-10)
    for a, b in zip(g_a, g_b, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-10)
