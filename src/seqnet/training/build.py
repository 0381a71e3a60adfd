"""What ``train()`` builds before its loop: the device, the task and model, and the TensorBoard
writer."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from omegaconf import DictConfig

from seqnet.data import Task, build_task
from seqnet.errors import ConfigError
from seqnet.models import Model, build_model
from seqnet.tblog.hparams import all_metric_tags, flat_hparams
from seqnet.tblog.writer import NullWriter, RunWriter
from seqnet.training.device import configure_cpu, configure_threads, resolve_device
from seqnet.training.distributed import Ranks

log = logging.getLogger(__name__)


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
