"""trainer.precision: bf16-mixed trains like float32, gradient probes never run in bf16, a CPU
without native bfloat16 warns, and a loss-scale overflow is not a non-finite step. (Precisions
that cannot run: tests/training/test_checks.py.)"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import TINY, compose_config
from helpers.runs import last_ckpt, scalars
from seqnet.data import build_task
from seqnet.gradients import load_gradients, measure_profile
from seqnet.models import build_model
from seqnet.training.loop import train
from seqnet.training.precision import MixedPrecision

# On the CPU explicitly: probe_again rebuilds the task there, and generated data depends on the
# device (a GPU machine's default device=auto trained on other sequences and failed this file).
LEARN = [
    *TINY,
    "trainer.device=cpu",
    "trainer.max_steps=40",
    "optim.lr=0.01",
    "grad_log.every_n_steps=20",
]


def probe_again(run_dir: Path, dtype: str, autocast: bool = False) -> dict[str, np.ndarray]:
    """The last gradient profile, measured again on the run's final weights."""
    ckpt = last_ckpt(run_dir)
    cfg = compose_config([*LEARN, f"grad_log.dtype={dtype}"])
    task = build_task(cfg.data)
    model = build_model(cfg.model, task.spec)
    model.load_state_dict(ckpt["model"])
    x, y = task.val_set()
    batch = (x[: cfg.grad_log.batch_size], y[: cfg.grad_log.batch_size])
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        return measure_profile(model, task, batch, ckpt["step"], dtype=dtype).norms


@pytest.fixture(scope="module")
def fp32(tmp_path_factory: pytest.TempPathFactory) -> dict[str, float]:
    return train(compose_config([*LEARN, f"paths.run_dir={tmp_path_factory.mktemp('fp32')}"]))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bf16_mixed_trains_and_its_probes_stay_in_their_dtype(
    fp32: dict[str, float], tmp_path: Path, dtype: str
) -> None:
    run_dir = tmp_path / "bf16"
    overrides = ["trainer.precision=bf16-mixed", f"grad_log.dtype={dtype}"]
    bf16 = train(compose_config([*LEARN, *overrides, f"paths.run_dir={run_dir}"]))

    losses = [v for _, v in scalars(run_dir)["train/loss"]]
    assert bf16["val/loss"] < losses[0] / 2  # it learns
    assert bf16["val/loss"] == pytest.approx(fp32["val/loss"], rel=0.1)
    assert bf16["val/loss"] != fp32["val/loss"]  # autocast did run the forward pass in bf16
    assert all(t.dtype == torch.float32 for t in last_ckpt(run_dir)["model"].values())

    steps, norms, meta = load_gradients(run_dir / "gradients.npz")
    assert steps.tolist() == [0, 20, 40] and meta["dtype"] == dtype
    again = probe_again(run_dir, dtype)
    for q, values in again.items():
        np.testing.assert_array_equal(norms[q][-1], values)  # exactly: no bf16 anywhere
    if dtype == "float32":  # the same pass under bf16 autocast gives other numbers
        in_bf16 = probe_again(run_dir, dtype, autocast=True)
        assert not np.array_equal(norms["h_l0"][-1], in_bf16["h_l0"])


@pytest.mark.parametrize("native", [True, False])
def test_bf16_on_a_cpu_without_native_bfloat16_warns(monkeypatch, caplog, native):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: native)
    with caplog.at_level(logging.WARNING, logger="seqnet.training.precision"):
        MixedPrecision("bf16-mixed", torch.device("cpu"))
        MixedPrecision("32", torch.device("cpu"))
    warnings = [r.getMessage() for r in caplog.records]
    if native:
        assert warnings == []
    else:
        assert warnings == [
            "trainer.precision=bf16-mixed: this CPU has no native bfloat16 (AVX512-BF16 or AMX), "
            "so PyTorch emulates it and training runs many times slower than with "
            "trainer.precision=32"
        ]


def test_a_loss_scale_overflow_is_not_a_nonfinite_step():
    """16-mixed's GradScaler starts high and halves its scale at each overflow of the scaled
    gradients. With a finite loss and a scale above 1 such a step is the scaler's (not counted
    as non-finite by the loop); at a scale of 1 it is the model's. The 16-mixed scaler (a CUDA
    one) is replaced by a CPU GradScaler from 4.0 so that the rule runs here on real overflows;
    tests/training/test_cuda.py runs it in train() on a GPU."""
    precision = MixedPrecision("32", torch.device("cpu"))
    precision.scaler = torch.amp.GradScaler("cpu", init_scale=4.0)
    weight = torch.nn.Parameter(torch.ones(1))
    optimizer = torch.optim.SGD([weight], lr=0.1)
    # sqrt(w - 1) at w = 1: a finite loss (0) with an infinite gradient at every scale, so the
    # scaler halves its scale each time, and at 1 the rule blames the model.
    verdicts = []
    for _ in range(3):
        loss = (weight - 1).sqrt().sum()
        optimizer.zero_grad()
        precision.backward(loss)
        precision.unscale(optimizer)
        assert not torch.isfinite(weight.grad).all()
        verdicts.append((precision.scale(), precision.scale_overflowed(loss.item())))
        precision.skip()
    assert verdicts == [(4.0, True), (2.0, True), (1.0, False)]
    assert precision.scale_overflowed(float("nan")) is False
    assert precision.scalars() == {"train/loss_scale": 0.5}
    assert MixedPrecision("32", torch.device("cpu")).scalars() == {}
    assert weight.item() == 1.0  # no update was taken
