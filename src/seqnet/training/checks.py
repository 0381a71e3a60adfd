"""Checks of a run's configuration that the schemas cannot express, made before any work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from seqnet.data import Task
from seqnet.errors import CheckpointError, ConfigError
from seqnet.tblog.hparams import flatten


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
    if cfg.optim.lr < 0:  # 0 is allowed: a fixed model measured over many steps
        raise ConfigError(f"optim.lr={cfg.optim.lr} must be >= 0")


def check_probe_batch(task: Task, gcfg: DictConfig) -> None:
    """The gradient probe batch (the head of the validation set, by default) must exist."""
    if gcfg.every_n_steps > 0:
        try:
            task.probe_batch(gcfg.batch_size)
        except ValueError as e:
            raise ConfigError(str(e)) from e


#: Model keys that choose how a model runs, not what it computes: they may change on resume.
RUNTIME_MODEL_KEYS = ("backend",)


def check_resumable(checkpoint: dict[str, Any], cfg: DictConfig, path: Path) -> None:
    """The checkpoint at ``path`` (``ckpt_path=auto`` already resolved) must hold the model (and
    optimizer) that this config builds."""
    saved = checkpoint["config"]
    for group in ("model", "optim"):
        current = OmegaConf.to_container(cfg[group], resolve=True, enum_to_str=True)
        saved_group = saved[group]
        if group == "model":
            saved_group = {k: v for k, v in saved_group.items() if k not in RUNTIME_MODEL_KEYS}
            current = {k: v for k, v in current.items() if k not in RUNTIME_MODEL_KEYS}
        if group == "optim":  # the learning rate etc. may change on resume; the class may not
            saved_target, current_target = saved[group].get("_target_"), current["_target_"]
            if saved_target != current_target:
                raise CheckpointError(
                    f"checkpoint {path} was trained with {saved_target}, this run asks "
                    f"for {current_target}; choose the same optim=..."
                )
            continue
        if saved_group != current:
            diff = sorted(
                k for k in set(saved_group) | set(current) if saved_group.get(k) != current.get(k)
            )
            wanted = " ".join(f"{group}.{k}={saved_group.get(k)}" for k in diff)
            raise CheckpointError(
                f"checkpoint {path} holds a different {group} ({', '.join(diff)} "
                f"differ); resume with the checkpoint's settings: {wanted}"
            )


def changed_settings(saved: dict[str, Any], cfg: DictConfig, groups: tuple[str, ...]) -> list[str]:
    """``"data.seq_len: 12 -> 20"`` for each key of ``groups`` whose value in ``cfg`` differs
    from the checkpoint's config ``saved`` (keys either side lacks read as None)."""
    changes = []
    for group in groups:
        current = OmegaConf.to_container(cfg[group], resolve=True, enum_to_str=True)
        old = flatten(saved.get(group) or {}, group, sep=".")
        new = flatten(current, group, sep=".")
        for key in dict.fromkeys([*old, *new]):
            if old.get(key) != new.get(key):
                changes.append(f"{key}: {old.get(key)} -> {new.get(key)}")
    return changes
