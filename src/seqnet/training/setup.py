"""What ``train()`` builds before its loop: the device, the task and model, the TensorBoard
writer, and a resume's restored state (with the payload a checkpoint holds to make it)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from seqnet.data import Task, build_task
from seqnet.errors import ConfigError
from seqnet.models import Model, build_model
from seqnet.models.cores import FusedCore
from seqnet.tblog.hparams import all_metric_tags, flat_hparams
from seqnet.tblog.writer import NullWriter, RunWriter
from seqnet.training.checkpoint import model_mismatch
from seqnet.training.device import configure_cpu, configure_threads, resolve_device
from seqnet.training.distributed import Ranks
from seqnet.training.precision import MixedPrecision
from seqnet.training.seeding import rng_state, set_rng_state

log = logging.getLogger(__name__)


@dataclass
class Counters:
    """What the loop counts across steps; saved in checkpoints so a resume continues them."""

    step: int = 0  # optimizer steps taken (successful or skipped)
    nonfinite_steps: int = 0  # steps skipped because the loss or gradient was NaN/inf
    clipped_steps: int = 0  # steps whose gradient norm was clipped


def setup_device(tcfg: DictConfig, ranks: Ranks) -> torch.device:
    """The training device (under torchrun, the rank's own GPU); on CPU the denormal flush is
    set before any tensor work; ``trainer.threads`` intra-op threads."""
    device = resolve_device(tcfg.device)
    if device.type == "cuda" and device.index is None and ranks.parallel:
        device = torch.device("cuda", ranks.local_rank)
    if device.type == "cpu":
        configure_cpu(tcfg.flush_denormal, tcfg.reuse_cpu_memory)
    configure_threads(tcfg.threads)
    return device


def build_task_and_model(cfg: DictConfig, device: torch.device) -> tuple[Task, Model]:
    """The task (data on ``device``) and the model for its shape; rejected option values
    (ValueError/KeyError from the constructors) become one-line configuration errors."""
    try:
        task = build_task(cfg.data, device)
        model = build_model(cfg.model, task.spec).to(device)
    except (ValueError, KeyError) as e:
        raise ConfigError(str(e).strip("'\"")) from e
    return task, model


def restore(
    checkpoint: dict[str, Any],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    precision: MixedPrecision | None = None,
) -> Counters:
    """Load the model, optimizer, loss-scaler and RNG states of a checkpoint; its counters.

    The optimizer's state (moments, step counts) comes from the checkpoint, its settings (lr,
    betas, momentum, ...) from this run's config: ``load_state_dict`` would bring back the
    saved ones, so the configured values are put back afterwards and each change is logged.
    """
    try:
        model.load_state_dict(checkpoint["model"])
    except RuntimeError as e:  # another task's input or output size: other encoder/head shapes
        raise model_mismatch(checkpoint, e) from e
    configured = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    optimizer.load_state_dict(checkpoint["optimizer"])
    for group, settings in zip(optimizer.param_groups, configured, strict=True):
        for key, value in settings.items():
            saved = group.get(key)
            group[key] = value
            if repr(saved) != repr(value):  # repr: tuples and lists, tensors, None compare
                log.info("optim.%s: %s in the checkpoint, %s from now on", key, saved, value)
    if precision is not None:
        precision.load_state_dict(checkpoint.get("grad_scaler", {}))
    set_rng_state(checkpoint["rng"])
    warn_if_cudnn_dropout(model, next(model.parameters()).device)
    return Counters(
        step=int(checkpoint["step"]),
        nonfinite_steps=int(checkpoint.get("nonfinite_steps", 0)),
        clipped_steps=int(checkpoint.get("clipped_steps", 0)),
    )


def warn_if_cudnn_dropout(model: torch.nn.Module, device: torch.device) -> None:
    """On resume: dropout between the layers of a fused core on the GPU is cuDNN's, drawn from
    a random state inside cuDNN that no checkpoint holds (it is seeded again from the restored
    CUDA generator), so the resumed run draws other masks than the uninterrupted run would.
    Everything else resumes bit for bit (tests/test_cuda.py); the engine's dropout does too."""
    if device.type != "cuda":
        return
    for core in model.modules():
        fused = isinstance(core, FusedCore) and not core.runs_stepped(device)
        if fused and core.dropout > 0 and core.num_layers > 1:
            log.warning(
                "model.dropout=%g between the layers of %s runs inside cuDNN, whose dropout "
                "masks a checkpoint cannot restore: this resumed run draws other masks than an "
                "uninterrupted one would (from the same distribution). For a bit-exact resume "
                "on the GPU use model.backend=stepped (the engine, with its own dropout)",
                core.dropout,
                type(core).__name__,
            )
            return


def open_writer(
    cfg: DictConfig, run_dir: Path, ranks: Ranks, hparams: bool = True
) -> RunWriter | NullWriter:
    """The run's TensorBoard writer (rank 0 only), with its HPARAMS entry written first; a run
    continued in its own folder already has that entry. Its metric columns are those of every
    registered task, so a sweep over tasks shows the same columns in every run (TensorBoard
    takes them from the first run it reads)."""
    if not ranks.is_main:
        return NullWriter()
    writer = RunWriter(run_dir / "tb")
    if hparams:
        writer.write_hparams(flat_hparams(cfg), all_metric_tags())
    return writer


def checkpoint_payload(
    cfg: DictConfig,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
    counters: Counters,
    precision: MixedPrecision,
) -> dict[str, Any]:
    """Everything a resume needs (see ``training.checkpoint.REQUIRED_KEYS``)."""
    return {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "grad_scaler": precision.state_dict(),
        "step": step,
        "rng": rng_state(),
        "config": OmegaConf.to_container(cfg, resolve=True, enum_to_str=True),
        "nonfinite_steps": counters.nonfinite_steps,
        "clipped_steps": counters.clipped_steps,
    }
