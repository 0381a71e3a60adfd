"""The training loop, top to bottom: set up, then get batch, forward, backward, clip, step, log,
validate, checkpoint. Gradient profiles are measured at step 0, every ``grad_log.every_n_steps``
and at the last step (``GradientMonitor``).

Set-up lives in small functions named for what they build, so that the loop itself stays short
enough to read in one go.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch.nn.utils import clip_grads_with_norm_, get_total_norm

from seqnet.data import Batch, Task, build_task
from seqnet.errors import ConfigError, TrainingDiverged
from seqnet.logging.hparams import all_metric_tags, flat_hparams
from seqnet.logging.progress import training_progress
from seqnet.logging.tensorboard import NullWriter, RunWriter
from seqnet.models import Model, build_model, concat_predictions
from seqnet.training import run_folder
from seqnet.training.carried_state import CarriedState
from seqnet.training.checkpoint import load_checkpoint, model_mismatch, save_checkpoint
from seqnet.training.checks import (
    changed_settings,
    check_config,
    check_probe_batch,
    check_resumable,
)
from seqnet.training.device import configure_cpu, configure_threads, resolve_device
from seqnet.training.distributed import (
    Ranks,
    agree_on_step,
    average_gradients,
    check_batch_divisible,
    gather_state_rows,
    join_process_group,
    seed_rank_generator,
    shard,
    state_rows,
)
from seqnet.training.gradient_monitor import GradientMonitor
from seqnet.training.precision import MixedPrecision
from seqnet.training.preemption import StopSignals
from seqnet.training.resume import (
    checkpoint_to_resume,
    finished_metrics,
    own_checkpoint,
    resumes_in_place,
)
from seqnet.training.seeding import rng_state, seed_everything, set_rng_state

log = logging.getLogger(__name__)


@dataclass
class Counters:
    """What the loop counts across steps; saved in checkpoints so a resume continues them."""

    step: int = 0  # optimizer steps taken (successful or skipped)
    nonfinite_steps: int = 0  # steps skipped because the loss or gradient was NaN/inf
    clipped_steps: int = 0  # steps whose gradient norm was clipped


def train(cfg: DictConfig) -> dict[str, float]:
    """Train ``cfg.model`` on ``cfg.data``; returns the final validation metrics."""
    tcfg = cfg.trainer
    run_dir = Path(cfg.paths.run_dir)

    # ---- validate everything the user gave before any work --------------------------------
    check_config(cfg)
    ranks = join_process_group()
    check_batch_divisible(cfg.data.batch_size, ranks)
    device = setup_device(tcfg, ranks)
    precision = MixedPrecision(tcfg.precision, device)
    ckpt_path = checkpoint_to_resume(cfg.ckpt_path, run_dir)
    in_place = resumes_in_place(ckpt_path, run_dir)
    # Loaded on the CPU: RNG states must stay CPU tensors; load_state_dict moves the rest.
    checkpoint = load_checkpoint(ckpt_path) if ckpt_path else None
    if checkpoint is not None:
        check_resumable(checkpoint, cfg)
        if in_place and (done := finished_metrics(checkpoint, run_dir, tcfg.max_steps)):
            return done

    # ---- build ------------------------------------------------------------------------------
    seed_everything(cfg.seed)
    task, model = build_task_and_model(cfg, device)
    check_probe_batch(task, cfg.grad_log)
    optimizer = instantiate(cfg.optim)(model.parameters())
    counters = Counters()
    if checkpoint is not None:
        log.info("resuming from %s at step %d", ckpt_path, checkpoint["step"])
        counters = restore(checkpoint, model, optimizer, precision)
    seed_rank_generator(cfg.seed, counters.step, ranks)
    run_folder.enter(run_dir, cfg.ckpt_path)  # refused if another run owns it: nothing written
    saved_state = checkpoint.get("carried_state") if checkpoint else None
    carried = CarriedState(task, state_rows(saved_state, ranks), device)  # this rank's rows
    writer = open_writer(cfg, run_dir, ranks, hparams=not in_place)
    grads = GradientMonitor(
        cfg.grad_log, model, task, writer, run_dir, tcfg.max_steps, enabled=ranks.is_main
    )
    if checkpoint is not None:
        changed = changed_settings(checkpoint["config"], cfg, ("data", "grad_log"))
        grads.carry_over(ckpt_path.parent.parent, counters.step, changed)
    ckpt_file = own_checkpoint(run_dir)

    def save(step: int) -> None:
        carried_state = gather_state_rows(carried.state, ranks)  # every rank takes part
        if not ranks.is_main:
            return
        payload = checkpoint_payload(cfg, model, optimizer, step, counters, precision)
        payload["carried_state"] = carried_state  # truncated BPTT resumes mid-stream
        save_checkpoint(ckpt_file, payload)
        grads.save(step)  # gradient files follow the checkpoint, so a preempted run keeps them
        writer.flush()

    # ---- the loop -------------------------------------------------------------------------
    max_steps, clip = tcfg.max_steps, tcfg.clip_grad_norm
    params = [p for p in model.parameters() if p.requires_grad]
    consecutive_nonfinite, last_norm = 0, None
    val_metrics: dict[str, float] = {}
    model.train()
    progress = training_progress(tcfg.progress_bar and ranks.is_main)
    bar = progress.add_task(
        "train", total=max_steps, completed=counters.step, loss=math.nan, rate=0.0
    )
    throughput = Throughput()
    with progress, StopSignals() as signals:
        for step in range(counters.step, max_steps):
            if grads.due(step):
                grads.measure(step)  # step 0 is measured before any update

            x, y = shard(task.train_batch(cfg.seed, step), ranks)
            with precision.autocast():
                pred, final_state = model(x, carried.initial(step), targets=y)
                loss = task.loss(pred, y)
            optimizer.zero_grad(set_to_none=True)
            precision.backward(loss)
            average_gradients(params, ranks)
            precision.unscale(optimizer)
            grad_norm = get_total_norm([p.grad for p in params if p.grad is not None])
            loss_value, stop = agree_on_step(loss, signals.requested, ranks)
            norm_value = grad_norm.item()

            if math.isfinite(loss_value) and math.isfinite(norm_value):
                consecutive_nonfinite = 0
                if clip is not None and norm_value > clip:
                    clip_grads_with_norm_(params, clip, grad_norm)
                    counters.clipped_steps += 1
                precision.step(optimizer)
                carried.keep(step, final_state)
                warn_on_jump(step + 1, last_norm, norm_value, tcfg.grad_jump_decades, clip)
                last_norm = norm_value
            else:  # skip the update; the weights stay those of the last good step
                precision.skip()
                carried.keep(step, None)
                counters.nonfinite_steps += 1
                consecutive_nonfinite += 1
                if consecutive_nonfinite >= tcfg.max_nonfinite_steps:
                    writer.scalars({"train/nonfinite_steps": counters.nonfinite_steps}, step + 1)
                    writer.close()
                    raise diverged(consecutive_nonfinite, step + 1, ckpt_file)

            done = counters.step = step + 1
            throughput.tick()
            if done % tcfg.log_every_n_steps == 0 or done == max_steps:
                rate = throughput.rate()
                writer.scalars(
                    {
                        "train/loss": loss_value,
                        "train/grad_norm": norm_value,
                        "train/grad_norm_clipped": min(norm_value, clip) if clip else norm_value,
                        "train/clipped_fraction": counters.clipped_steps / done,
                        "train/nonfinite_steps": counters.nonfinite_steps,
                        "train/lr": optimizer.param_groups[0]["lr"],
                        "train/steps_per_sec": rate,
                    },
                    done,
                )
                progress.update(bar, loss=loss_value, rate=rate)
            progress.update(bar, completed=done)

            if done % tcfg.val_every_n_steps == 0 or done == max_steps:
                with precision.autocast():
                    val_metrics = evaluate(model, task)
                writer.scalars({f"val/{k}": v for k, v in val_metrics.items()}, done)
            if done == max_steps and grads.enabled:
                grads.measure(done)  # the last step, after the final update
            if done % tcfg.ckpt_every_n_steps == 0 or done == max_steps or stop:
                save(done)
            if stop and done < max_steps:  # preempted: checkpoint written, hand over
                writer.close()
                raise signals.preempted(done, ckpt_file)

    # ---- finish -------------------------------------------------------------------------------
    if not val_metrics:  # resumed at or past max_steps: nothing trained, still report
        val_metrics = evaluate(model, task, task.val_set())
    final_step = max(counters.step, max_steps)
    with precision.autocast():
        test_metrics = evaluate_test_set(model, task, writer, final_step)
    writer.scalars({f"final/val_{k}": v for k, v in val_metrics.items()}, final_step)
    writer.close()
    metrics: dict[str, Any] = {f"val/{k}": v for k, v in val_metrics.items()}
    metrics.update({f"test/{k}": v for k, v in test_metrics.items()})
    metrics.update(
        step=final_step,
        nonfinite_steps=counters.nonfinite_steps,
        clipped_steps=counters.clipped_steps,
    )
    if ranks.is_main:
        (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


@torch.no_grad()
def evaluate(
    model: Model, task: Task, batch: Batch | None = None, chunk: int = 1024
) -> dict[str, float]:
    """``task.metrics`` of the model's predictions on ``batch`` (default: the validation set),
    in eval mode (no dropout). ``model.predict`` is a forward pass, or greedy decoding for
    decoders: the shape's business, not the loop's."""
    was_training = model.training
    model.eval()
    x, y = task.val_set() if batch is None else batch
    preds = [model.predict(x[i : i + chunk], y[i : i + chunk]) for i in range(0, len(x), chunk)]
    model.train(was_training)
    return task.metrics(concat_predictions(preds), y)


def evaluate_test_set(model: Model, task: Task, writer: RunWriter, step: int) -> dict[str, float]:
    """Once, at the end: the metrics on the task's test set, logged as ``test/<name>`` and
    ``final/test_<name>``; nothing for tasks without a test set."""
    test_set = task.test_set()
    if test_set is None:
        return {}
    metrics = evaluate(model, task, test_set)
    writer.scalars({f"test/{k}": v for k, v in metrics.items()}, step)
    writer.scalars({f"final/test_{k}": v for k, v in metrics.items()}, step)
    return metrics


# ---------------------------------------------------------------------------- set-up


def setup_device(tcfg: DictConfig, ranks: Ranks) -> torch.device:
    """The training device (under torchrun, the rank's own GPU); on CPU the denormal flush is
    set before any tensor work; ``trainer.threads`` intra-op threads."""
    device = resolve_device(tcfg.device)
    if device.type == "cuda" and device.index is None and ranks.parallel:
        device = torch.device("cuda", ranks.local_rank)
    if device.type == "cpu":
        configure_cpu(tcfg.flush_denormal)
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
    return Counters(
        step=int(checkpoint["step"]),
        nonfinite_steps=int(checkpoint.get("nonfinite_steps", 0)),
        clipped_steps=int(checkpoint.get("clipped_steps", 0)),
    )


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


# ---------------------------------------------------------------------------- in the loop


class Throughput:
    """Steps per second since the last ``rate()`` call."""

    def __init__(self) -> None:
        self.start, self.steps = time.perf_counter(), 0

    def tick(self) -> None:
        self.steps += 1

    def rate(self) -> float:
        elapsed = time.perf_counter() - self.start
        rate = self.steps / elapsed if elapsed > 0 else 0.0
        self.start, self.steps = time.perf_counter(), 0
        return rate


def warn_on_jump(
    step: int, last_norm: float | None, norm: float, decades: float, clip: float | None
) -> None:
    """A warning when the gradient norm grows by more than ``decades`` orders of magnitude."""
    if last_norm and norm > last_norm * 10**decades:
        log.warning(
            "step %d: gradient norm jumped from %.3g to %.3g (%.1f orders of magnitude)%s",
            step,
            last_norm,
            norm,
            math.log10(norm / last_norm),
            "" if clip else "; consider trainer.clip_grad_norm=1.0",
        )


def diverged(in_a_row: int, step: int, ckpt_file: Path) -> TrainingDiverged:
    kept = ckpt_file if ckpt_file.exists() else "(none written yet)"
    return TrainingDiverged(
        f"loss or gradient was NaN/inf for {in_a_row} steps in a row (up to step {step}); "
        f"stopped. The last good checkpoint is kept at {kept}. Try a lower optim.lr or "
        "trainer.clip_grad_norm=1.0"
    )
