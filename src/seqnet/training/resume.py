"""Resuming, as one object: which checkpoint a run starts from, whether it may, and putting back
everything the checkpoint holds.

``Resume.find(cfg, run_dir)`` resolves ``ckpt_path`` (``auto``: the run directory's own
``checkpoints/last.pt`` when it exists, else a fresh start), loads the checkpoint and checks that
it holds the model and optimizer this config builds, all before any work. ``train()`` then has
one branch, ``if resume: counters = resume.restore(...)``, which puts back the model, optimizer,
loss-scaler and RNG states, the carried state of truncated BPTT and the gradient history. A run
already finished in its own folder (checkpoint at ``trainer.max_steps`` and ``metrics.json``
written) is left as it is: ``resume.finished`` holds its metrics. Which runs may write into a
folder at all: ``seqnet.training.run_folder``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from seqnet.errors import CheckpointError
from seqnet.models.cores import FusedCore
from seqnet.tblog.hparams import flatten
from seqnet.training.carried_state import CarriedState
from seqnet.training.checkpoint import (
    Counters,
    checkpoint_to_resume,
    load_checkpoint,
    model_mismatch,
    own_checkpoint,
)
from seqnet.training.checkpoint_fields import check_finite, check_optimizer_fits
from seqnet.training.distributed import Ranks, state_rows
from seqnet.training.early_stopping import EarlyStopping, stopped_early
from seqnet.training.lr_schedule import LrSchedule, check_same_schedule
from seqnet.training.precision import MixedPrecision
from seqnet.training.run_record import check_unchanged
from seqnet.training.seeding import set_rng_state
from seqnet.training.suggest import choice_overrides, override

log = logging.getLogger(__name__)

#: Model keys that choose how a model runs, not what it computes: they may change on resume.
RUNTIME_MODEL_KEYS = ("backend",)
#: Settings that change neither the probe batch nor how its gradients are measured.
NOT_PROBE_SETTINGS = (
    "data.batch_size",
    "grad_log.every_n_steps",
    "grad_log.depth_points",
    "grad_log.horizon_threshold",
)


class Resume:
    """A run's starting point: a loaded, checked checkpoint, or nothing (false: a fresh start)."""

    def __init__(self, path: Path | None, checkpoint: dict[str, Any] | None, run_dir: Path):
        self.path, self.checkpoint, self.run_dir = path, checkpoint, run_dir
        #: The run continues its own folder (its TensorBoard files, gradients.npz, HPARAMS).
        self.in_place = path is not None and path.resolve() == own_checkpoint(run_dir).resolve()
        #: The metrics of a run already finished in its folder; None when there is work left.
        self.finished: dict[str, Any] | None = None

    @classmethod
    def find(cls, cfg: DictConfig, run_dir: Path) -> Resume:
        """The checkpoint ``cfg.ckpt_path`` names, loaded (on the CPU: RNG states must stay CPU
        tensors; ``load_state_dict`` moves the rest) and checked against ``cfg``."""
        path = checkpoint_to_resume(cfg.ckpt_path, run_dir)
        if path is None:
            return cls(None, None, run_dir)
        checkpoint = load_checkpoint(path)
        check_finite(checkpoint, path)  # NaN weights would train on as if they were good
        check_resumable(checkpoint, cfg, path)
        resume = cls(path, checkpoint, run_dir)
        if resume.in_place:
            resume.finished = finished_metrics(checkpoint, run_dir, cfg.trainer.max_steps)
            if resume.finished is not None:  # its folder stays a true record of that run
                check_unchanged(checkpoint["config"], cfg, run_dir, checkpoint["step"])
        return resume

    def __bool__(self) -> bool:
        return self.checkpoint is not None

    @property
    def run_folder(self) -> Path | None:
        """The folder of the run being resumed (whose gradients.npz holds its history)."""
        return None if self.path is None else self.path.parent.parent

    def changed_settings(self, cfg: DictConfig) -> list[str]:
        """The settings of the probe batch and of how it is measured (``data``, bar the
        training batch size, and ``grad_log``'s ``batch_size``, ``dtype`` and ``loss``) that
        this run changes from the checkpoint's."""
        if self.checkpoint is None:
            return []
        changes = changed_settings(self.checkpoint["config"], cfg, ("data", "grad_log"))
        return [c for c in changes if c.split(":")[0] not in NOT_PROBE_SETTINGS]

    @property
    def rank_rng(self) -> list[dict[str, Any]] | None:
        """Every rank's generator state, saved by a torchrun run (None otherwise)."""
        return self.checkpoint.get("rank_rng") if self.checkpoint else None

    @property
    def step(self) -> int:
        return int(self.checkpoint["step"]) if self.checkpoint else 0

    def restore(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        precision: MixedPrecision,
        carried: CarriedState,
        ranks: Ranks,
        schedule: LrSchedule | None = None,
        stopper: EarlyStopping | None = None,
    ) -> Counters:
        """Put back the model, optimizer, lr schedule, loss-scaler and RNG states, the early
        stopping record and this rank's carried state; returns the loop's counters. (The
        gradient history follows once the run's folder is entered:
        ``GradientMonitor.continue_history``.)"""
        assert self.checkpoint is not None and self.path is not None
        checkpoint = self.checkpoint
        log.info("resuming from %s at step %d", self.path, self.step)
        try:
            model.load_state_dict(checkpoint["model"])
        except RuntimeError as e:  # another task's input or output size: other encoder/head
            raise model_mismatch(checkpoint, e) from e
        check_optimizer_fits(checkpoint["optimizer"], model, optimizer, self.path)
        restore_optimizer(optimizer, checkpoint["optimizer"], schedule)
        if schedule is not None:  # check_resumable: the checkpoint's schedule, continued
            schedule.load_state_dict(checkpoint["scheduler"])
        if stopper is not None:
            stopper.load_state_dict(checkpoint.get("early_stopping"), self.in_place)
        precision.load_state_dict(checkpoint.get("grad_scaler", {}))
        set_rng_state(checkpoint["rng"])
        warn_if_cudnn_dropout(model, next(model.parameters()).device)
        carried.restore(state_rows(checkpoint.get("carried_state"), ranks))  # this rank's rows
        return Counters(
            step=self.step,
            nonfinite_steps=int(checkpoint.get("nonfinite_steps", 0)),
            clipped_steps=int(checkpoint.get("clipped_steps", 0)),
        )


def restore_optimizer(
    optimizer: torch.optim.Optimizer, state: dict[str, Any], schedule: LrSchedule | None = None
) -> None:
    """The optimizer's state (moments, step counts) from the checkpoint, its settings (lr,
    betas, momentum, ...) from this run's config: ``load_state_dict`` would bring back the saved
    ones, so the configured values are put back afterwards and each change is logged (not
    those a schedule sets: it puts back its own)."""
    scheduled = schedule.driven if schedule is not None else []
    configured = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    optimizer.load_state_dict(state)
    for group, settings in zip(optimizer.param_groups, configured, strict=True):
        for key, value in settings.items():
            saved = group.get(key)
            group[key] = value
            if key in scheduled:
                continue
            if repr(saved) != repr(value):  # repr: tuples and lists, tensors, None compare
                log.info("optim.%s: %s in the checkpoint, %s from now on", key, saved, value)


def finished_metrics(checkpoint: dict[str, Any], run_dir: Path, max_steps: int) -> Any:
    """The metrics of a run already finished in ``run_dir``, or None when there is work left."""
    metrics_file = run_dir / "metrics.json"
    stopped = stopped_early(checkpoint)  # trainer.early_stopping ended it: finished too
    if (int(checkpoint["step"]) < max_steps and not stopped) or not metrics_file.is_file():
        return None
    try:
        metrics = json.loads(metrics_file.read_text())
    except ValueError:
        return None  # cut off while written: finish again (nothing is trained past max_steps)
    how = f" (stopped early: {metrics.get('stop_reason')})" if stopped else ""
    log.info("%s already finished at step %d%s; nothing to do", run_dir, checkpoint["step"], how)
    return metrics


def check_resumable(checkpoint: dict[str, Any], cfg: DictConfig, path: Path) -> None:
    """The checkpoint at ``path`` must hold the model (and optimizer) that this config builds."""
    saved = checkpoint["config"]
    saved_target = saved["optim"].get("_target_")
    current_target = cfg.optim._target_
    if saved_target != current_target:  # the learning rate etc. may change; the class may not
        raise CheckpointError(
            f"checkpoint {path} was trained with {saved_target}, this run asks "
            f"for {current_target}; resume with the checkpoint's optimizer: "
            f"optim={optim_choice(saved_target)}"
        )
    current = OmegaConf.to_container(cfg.model, resolve=True, enum_to_str=True)
    saved_model = {k: v for k, v in saved["model"].items() if k not in RUNTIME_MODEL_KEYS}
    current = {k: v for k, v in current.items() if k not in RUNTIME_MODEL_KEYS}
    if saved_model != current:
        diff = sorted(
            k for k in set(saved_model) | set(current) if saved_model.get(k) != current.get(k)
        )
        wanted = " ".join(model_overrides(saved_model, current))
        raise CheckpointError(
            f"checkpoint {path} holds a different model ({', '.join(diff)} "
            f"differ); resume with the checkpoint's settings: {wanted}"
        )
    check_same_schedule(saved, cfg, path)


def model_overrides(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The overrides that give this run the checkpoint's model: its choice (``model=gru``) when
    that differs, then each key whose value differs from that choice's defaults."""
    from seqnet.models import MODEL_REGISTRY

    if saved.get("name") == current.get("name"):
        return [override(f"model.{k}", v) for k, v in saved.items() if current.get(k) != v]
    entry = MODEL_REGISTRY.get(saved.get("name"))
    defaults = None
    if entry is not None:
        node = OmegaConf.structured(entry.config)
        defaults = OmegaConf.to_container(node, resolve=True, enum_to_str=True)
    return choice_overrides("model", saved, defaults, skip=RUNTIME_MODEL_KEYS)


def optim_choice(target: str | None) -> str:
    """The ``optim=<name>`` choice whose optimizer class is ``target``."""
    from seqnet.optim import OPTIMIZER_REGISTRY

    for name, entry in OPTIMIZER_REGISTRY.items():
        if entry.config._target_ == target:
            return name
    return "..."


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


def warn_if_cudnn_dropout(model: torch.nn.Module, device: torch.device) -> None:
    """On resume: dropout between the layers of a fused core on the GPU is cuDNN's, drawn from
    a random state inside cuDNN that no checkpoint holds (it is seeded again from the restored
    CUDA generator), so the resumed run draws other masks than the uninterrupted run would.
    Everything else resumes bit for bit (tests/training/test_cuda.py); the engine's dropout
    does too."""
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
