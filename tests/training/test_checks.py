"""Configuration errors stop ``train`` before any work: one line (a ``ConfigError``) that names
the bad value and the fix, and no run folder, no tb/, no checkpoints/."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from conftest import TINY, TINY_RUN, compose_config
from seqnet.errors import ConfigError
from seqnet.training.loop import train

CHAR_LM = [*TINY_RUN, "data=char_lm", "data.batch_size=8", "data.seq_len=12"]

#: (overrides on TINY, or a full list for another task; the whole message)
ERRORS = {
    # trainer, optim and grad_log
    "device": (
        ["trainer.device=tpu"],
        "trainer.device='tpu' is not a device; use one of auto, cpu, cuda, cuda:N",
    ),
    "cuda": (  # (CUDA reads as unavailable, so this means the same on a GPU machine)
        ["trainer.device=cuda"],
        "trainer.device=cuda but CUDA is not available on this machine; use trainer.device=cpu "
        "or trainer.device=auto",
    ),
    "cuda_1": (
        ["trainer.device=cuda:1"],
        "trainer.device=cuda:1 but CUDA is not available on this machine; use "
        "trainer.device=cpu or trainer.device=auto",
    ),
    "precision_16_on_cpu": (
        ["trainer.device=cpu", "trainer.precision=16-mixed"],
        "trainer.precision=16-mixed needs a GPU (this run is on cpu); use "
        "trainer.precision=bf16-mixed on the CPU",
    ),
    "precision_name": (
        ["trainer.device=cpu", "trainer.precision=bf16"],
        "trainer.precision=bf16 is not a precision; use one of 32, bf16-mixed, 16-mixed",
    ),
    "negative_clip": (
        ["trainer.clip_grad_norm=-1"],
        "trainer.clip_grad_norm=-1.0 must be > 0, or null to turn clipping off",
    ),
    "zero_clip": (
        ["trainer.clip_grad_norm=0"],
        "trainer.clip_grad_norm=0.0 must be > 0, or null to turn clipping off",
    ),
    "max_steps": (["trainer.max_steps=0"], "trainer.max_steps=0 must be a positive integer"),
    "lr": (["optim.lr=-0.001"], "optim.lr=-0.001 must be >= 0 (e.g. optim.lr=0.001)"),
    # optimizer values: one line naming the key and a working value, not a torch traceback
    "lr_inf": (["optim.lr=inf"], "optim.lr=inf must be finite and >= 0 (e.g. optim.lr=0.001)"),
    "lr_nan": (["optim.lr=nan"], "optim.lr=nan must be finite and >= 0 (e.g. optim.lr=0.001)"),
    "betas": (
        ["optim.betas=[2,3]"],
        "optim.betas=[2.0, 3.0] must each be in [0, 1) (e.g. optim.betas=[0.9,0.999])",
    ),
    "beta_one": (
        ["optim.betas=[0.9,1.0]"],
        "optim.betas=[0.9, 1.0] must each be in [0, 1) (e.g. optim.betas=[0.9,0.999])",
    ),
    "momentum": (
        ["optim=sgd", "optim.momentum=-1"],
        "optim.momentum=-1.0 must be >= 0 (e.g. optim.momentum=0.9, or 0 for none)",
    ),
    "weight_decay": (
        ["optim.weight_decay=-1"],
        "optim.weight_decay=-1.0 must be >= 0 (e.g. optim.weight_decay=0.01, or 0 for none)",
    ),
    "eps_nan": (["optim.eps=nan"], "optim.eps=nan must be finite and > 0 (e.g. optim.eps=1e-8)"),
    "rmsprop_alpha": (
        ["optim=rmsprop", "optim.alpha=inf"],
        "optim.alpha=inf must be finite and in [0, 1) (e.g. optim.alpha=0.99)",
    ),
    "nesterov": (
        ["optim=sgd", "optim.nesterov=true"],
        "optim.nesterov=true needs optim.momentum > 0 and no dampening (e.g. "
        "optim.momentum=0.9), or optim.nesterov=false",
    ),
    "grad_log_every": (
        ["grad_log.every_n_steps=-1"],
        "grad_log.every_n_steps=-1 must be >= 0 (0 = off)",
    ),
    "probe_batch": (
        ["grad_log.batch_size=64"],
        "grad_log.batch_size=64 is larger than the validation set (data.val_size=32) it is "
        "drawn from; lower it or raise val_size",
    ),
    # the task
    "adding_seq_len": (
        ["data.seq_len=1"],
        "the adding problem needs data.seq_len >= 2 (one marker per half), got 1",
    ),
    "char_lm_probe_batch": (
        [*CHAR_LM, "grad_log.batch_size=5000"],
        "grad_log.batch_size=5000 is larger than the 1937 windows of data.seq_len=12 characters "
        "in the validation text; set grad_log.batch_size<=1937",
    ),
    # the model
    "hidden_size": (["model.hidden_size=0"], "model.hidden_size=0 must be a positive integer"),
    "zoneout": (
        ["model=lstm", "model.zoneout=1.5"],
        "model.zoneout=1.5 must be in [0, 1): the probability that a unit keeps its previous "
        "state at a step (e.g. model.zoneout=0.1; 0 turns zoneout off)",
    ),
    "negative_zoneout": (
        ["model=gru_layernorm", "model.zoneout=-0.1"],
        "model.zoneout=-0.1 must be in [0, 1): the probability that a unit keeps its previous "
        "state at a step (e.g. model.zoneout=0.1; 0 turns zoneout off)",
    ),
    "chrono": (
        ["model=lstm_cifg", "model.chrono_tmax=-3"],
        "model.chrono_tmax=-3 must be >= 2: the longest dependency to remember, in timesteps "
        "(e.g. the task's data.seq_len); null turns chrono initialisation off",
    ),
    "recurrent_max": (
        ["model=indrnn", "model.recurrent_max=-5"],
        "model.recurrent_max=-5 must be a positive number of timesteps T (|u| is kept <= "
        "2^(1/T)), or null for no constraint",
    ),
    "zoneout_on_the_fused_kernel": (
        ["model=gru", "model.zoneout=0.1", "model.backend=fused"],
        "model.zoneout=0.1 needs the step-by-step engine and model.backend=fused is the fused "
        "kernel, which has no zoneout: set model.backend=auto (or stepped)",
    ),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_config_errors_stop_train_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    overrides, message = ERRORS[case]
    base = [] if overrides[: len(TINY_RUN)] == TINY_RUN else TINY
    with pytest.raises(ConfigError) as excinfo:
        train(compose_config([*base, *overrides, f"paths.run_dir={tmp_path / 'run'}"]))
    assert str(excinfo.value) == message
    assert list(tmp_path.iterdir()) == []  # no run folder: no tb/, no checkpoints/
