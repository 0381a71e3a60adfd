"""Gradient profiles during training: when to measure, on which batch, where they go.

Profiles are measured on a fixed probe batch (the head of the validation set) at step 0, every
``grad_log.every_n_steps`` steps and at the last step; each is logged to TensorBoard at once and
kept in ``gradients.npz``, which is written with every checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from omegaconf import DictConfig

from seqnet.data import Task
from seqnet.gradients import GRADIENTS_FILE, GradientStore, batch_fingerprint, measure_profile
from seqnet.models import Model

if TYPE_CHECKING:
    from seqnet.training.resume import Resume
from seqnet.tblog.grad_views import gradient_layout, log_heatmaps, log_profile
from seqnet.tblog.writer import RunWriter

log = logging.getLogger(__name__)


class GradientMonitor:
    """Measures, logs and stores the gradient profiles of one run (``grad_log`` config)."""

    def __init__(
        self,
        gcfg: DictConfig,
        model: Model,
        task: Task,
        writer: RunWriter,
        run_dir: Path,
        max_steps: int,
        enabled: bool = True,
    ) -> None:
        self.cfg = gcfg
        self.model = model
        self.task = task
        self.writer = writer
        self.max_steps = max_steps
        self.every = gcfg.every_n_steps
        self.enabled = enabled and self.every > 0  # off on ranks other than 0
        self.quantities: list[str] = []
        self.probe_batch = None
        if self.enabled:
            self.probe_batch = task.probe_batch(gcfg.batch_size)
            self.quantities = model.probe_names
            writer.custom_scalars(gradient_layout(self.quantities))
        probe = batch_fingerprint(self.probe_batch) if self.probe_batch is not None else ""
        self.store = GradientStore(run_dir / GRADIENTS_FILE, gcfg.dtype.name, gcfg.loss.name, probe)

    def continue_history(self, resume: Resume, cfg: DictConfig) -> None:
        """A resumed run starts with the profiles its checkpoint's run measured before the
        resumed step (see ``carry_over``); a fresh run starts empty."""
        if resume and resume.run_folder is not None:
            self.carry_over(resume.run_folder, resume.step, resume.changed_settings(cfg))

    def carry_over(self, previous_run: Path, before_step: int, changed: Sequence[str] = ()) -> None:
        """Start with the profiles an earlier run (being resumed) measured before this step.

        Profiles measured otherwise (another probe batch, length, dtype or loss), or an
        unreadable file, start a fresh history instead, with a warning that says why;
        ``changed`` (the settings that differ from the checkpoint's) goes into it.
        """
        previous = previous_run / GRADIENTS_FILE
        if not self.enabled or not previous.is_file():
            return
        reason = self.store.extend_from(previous, before_step=before_step)
        if reason is None:
            log.info(
                "gradient history: %d profile(s) before step %d taken over from %s",
                len(self.store.profiles),
                before_step,
                previous,
            )
            return
        hint = f" (changed: {', '.join(changed)})" if changed else ""
        kept = ""
        if previous.resolve() == self.store.path.resolve():  # in place: never overwritten
            aside = set_aside(previous, before_step)
            kept = f"the earlier profiles are kept in {aside}, and "
        log.warning(
            "gradient history starts fresh at step %d: %s%s; %sthis run's %s holds only the "
            "profiles it measures",
            before_step,
            reason,
            hint,
            kept,
            GRADIENTS_FILE,
        )

    def due(self, step: int) -> bool:
        """Measured before the update of ``step`` (so step 0 is the untrained model)."""
        return self.enabled and step % self.every == 0

    def measure(self, step: int) -> None:
        # Never in reduced precision, even if called inside an autocast region.
        with torch.autocast(self.probe_batch[0].device.type, enabled=False):
            profile = measure_profile(
                self.model,
                self.task,
                self.probe_batch,
                step,
                dtype=self.cfg.dtype.name,
                loss=self.cfg.loss.name,
            )
        self.store.append(profile)
        log_profile(self.writer, profile, self.cfg.depth_points, self.cfg.horizon_threshold)

    def save(self, step: int, final: bool = False) -> None:
        """Write gradients.npz (with each checkpoint, so a preempted run keeps its profiles);
        draw the heatmaps once, at the last step (matplotlib costs ~0.1 s a figure), or at the
        ``final`` one of a run stopped early."""
        if not self.store.profiles:
            return
        self.store.save()
        if step == self.max_steps or final:
            matrices = {q: self.store.matrix(q) for q in self.quantities}
            log_heatmaps(self.writer, self.store.steps, matrices, self.store.dtype, step)


def set_aside(history: Path, before_step: int) -> Path:
    """Rename a run's own ``gradients.npz`` that a resume cannot continue to
    ``gradients.before_step_<N>.npz`` (``_2``, ... if that is taken), so that the history
    measured before step N is kept beside the one that starts there."""
    stem = f"{history.stem}.before_step_{before_step}"
    aside, number = history.with_name(f"{stem}{history.suffix}"), 1
    while aside.exists():
        number += 1
        aside = history.with_name(f"{stem}_{number}{history.suffix}")
    history.rename(aside)
    return aside
