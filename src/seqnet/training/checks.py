"""Checks of a run's configuration that the schemas cannot express, made before any work."""

from __future__ import annotations

from omegaconf import DictConfig

from seqnet.data import Task
from seqnet.errors import ConfigError
from seqnet.optim.checks import check_optimizer
from seqnet.training.early_stopping import check_early_stopping
from seqnet.training.lr_schedule import check_schedule


def check_config(cfg: DictConfig) -> None:
    """Values the schemas cannot check (ranges), with the fix in each message."""
    t, g = cfg.trainer, cfg.grad_log
    positive = {
        "trainer.max_steps": t.max_steps,
        "trainer.val_every_n_steps": t.val_every_n_steps,
        "trainer.ckpt_every_n_steps": t.ckpt_every_n_steps,
        "trainer.log_every_n_steps": t.log_every_n_steps,
        "trainer.max_nonfinite_steps": t.max_nonfinite_steps,
        "grad_log.batch_size": g.batch_size,
        "model.hidden_size": cfg.model.hidden_size,
        "model.num_layers": cfg.model.num_layers,
    }
    for key, value in positive.items():
        if value < 1:
            raise ConfigError(f"{key}={value} must be a positive integer")
    if g.every_n_steps < 0:
        raise ConfigError(f"grad_log.every_n_steps={g.every_n_steps} must be >= 0 (0 = off)")
    if "val_size" in cfg.data and g.batch_size > cfg.data.val_size:
        raise ConfigError(
            f"grad_log.batch_size={g.batch_size} is larger than the validation set "
            f"(data.val_size={cfg.data.val_size}) it is drawn from; lower it or raise val_size"
        )
    if t.clip_grad_norm is not None and t.clip_grad_norm <= 0:
        raise ConfigError(
            f"trainer.clip_grad_norm={t.clip_grad_norm} must be > 0, or null to turn clipping off"
        )
    check_optimizer(cfg.optim)  # lr >= 0 (0: a fixed model measured over many steps), ...
    check_schedule(cfg)
    check_early_stopping(cfg)


def check_probe_batch(task: Task, gcfg: DictConfig) -> None:
    """The gradient probe batch (the head of the validation set, by default) must exist."""
    if gcfg.every_n_steps > 0:
        try:
            task.probe_batch(gcfg.batch_size)
        except ValueError as e:
            raise ConfigError(str(e)) from e
