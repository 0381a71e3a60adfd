"""The training loop, top to bottom: set up, then get batch, forward, backward, clip, step, log,
validate, checkpoint. Gradient profiles are measured at step 0, every ``grad_log.every_n_steps``
and at the last step."""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch.nn.utils import clip_grads_with_norm_, get_total_norm

from seqnet.data import Task, build_task
from seqnet.errors import CheckpointError, ConfigError, TrainingDiverged
from seqnet.gradients import GRADIENTS_FILE, GradientStore, measure_profile
from seqnet.logging.grad_views import gradient_layout, log_heatmaps, log_profile
from seqnet.logging.hparams import flat_hparams
from seqnet.logging.progress import training_progress
from seqnet.logging.tensorboard import RunWriter
from seqnet.models import SequenceModel, build_model
from seqnet.training.checkpoint import load_checkpoint, save_checkpoint
from seqnet.training.device import configure_cpu, resolve_device
from seqnet.training.seeding import rng_state, seed_everything, set_rng_state

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict[str, float]:
    """Train ``cfg.model`` on ``cfg.data``; returns the final validation metrics."""
    tcfg, gcfg = cfg.trainer, cfg.grad_log
    run_dir = Path(cfg.paths.run_dir)

    # ---- validate everything the user gave before any work --------------------------------
    check_config(cfg)
    device = resolve_device(tcfg.device)
    if device.type == "cpu":
        configure_cpu(tcfg.flush_denormal)  # before any tensor work in this process
    # Loaded on the CPU: RNG states must stay CPU tensors; load_state_dict moves the rest.
    checkpoint = load_checkpoint(cfg.ckpt_path) if cfg.ckpt_path else None
    if checkpoint is not None:
        check_resumable(checkpoint, cfg)

    # ---- build ------------------------------------------------------------------------------
    seed_everything(cfg.seed)
    try:
        task = build_task(cfg.data, device)
        model = build_model(cfg.model, task.spec).to(device)
    except (ValueError, KeyError) as e:  # option values the constructors reject
        raise ConfigError(str(e).strip("'\"")) from e
    optimizer = instantiate(cfg.optim)(model.parameters())
    start_step, nonfinite_total, clipped_total = 0, 0, 0
    if checkpoint is not None:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        set_rng_state(checkpoint["rng"])
        start_step = int(checkpoint["step"])
        nonfinite_total = int(checkpoint.get("nonfinite_steps", 0))
        clipped_total = int(checkpoint.get("clipped_steps", 0))
        log.info("resumed from %s at step %d", cfg.ckpt_path, start_step)

    writer = RunWriter(run_dir / "tb")
    metric_tags = [f"final/val_{m}" for m in task.metric_names]
    writer.write_hparams(flat_hparams(cfg), metric_tags)
    ckpt_file = run_dir / "checkpoints" / "last.pt"
    grad_every = gcfg.every_n_steps
    store = GradientStore(run_dir / GRADIENTS_FILE, gcfg.dtype.name, gcfg.loss.name)
    previous = Path(cfg.ckpt_path).parent.parent / GRADIENTS_FILE if cfg.ckpt_path else None
    if grad_every > 0 and previous is not None and previous.is_file():
        store.extend_from(previous, before_step=start_step)
    probe_batch = None
    if grad_every > 0:
        x_val, y_val = task.val_set()
        probe_batch = (x_val[: gcfg.batch_size], y_val[: gcfg.batch_size])
        quantities = ["x"] + [
            f"{s}_l{layer}" for layer in range(model.num_layers) for s in model.state_names
        ]
        writer.custom_scalars(gradient_layout(quantities))

    def measure_gradients(step: int) -> None:
        profile = measure_profile(
            model, task, probe_batch, step, dtype=gcfg.dtype.name, loss=gcfg.loss.name
        )
        store.append(profile)
        log_profile(writer, profile, gcfg.depth_points, gcfg.horizon_threshold)

    def save(step: int) -> None:
        save_checkpoint(
            ckpt_file,
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "step": step,
                "rng": rng_state(),
                "config": OmegaConf.to_container(cfg, resolve=True, enum_to_str=True),
                "nonfinite_steps": nonfinite_total,
                "clipped_steps": clipped_total,
            },
        )
        if store.profiles:  # gradient files follow the checkpoint, so a preempted run keeps them
            store.save()
            # Drawing with matplotlib costs ~0.1 s a figure: only once, when training ends.
            if step == tcfg.max_steps:
                matrices = {q: store.matrix(q) for q in quantities}
                log_heatmaps(writer, store.steps, matrices, store.dtype, step)
        writer.flush()

    # ---- the loop -------------------------------------------------------------------------
    max_steps, clip = tcfg.max_steps, tcfg.clip_grad_norm
    params = [p for p in model.parameters() if p.requires_grad]
    consecutive_nonfinite, last_norm = 0, None
    val_metrics: dict[str, float] = {}
    model.train()
    progress = training_progress(tcfg.progress_bar)
    bar = progress.add_task("train", total=max_steps, completed=start_step, loss=math.nan, rate=0.0)
    window_start, window_steps = time.perf_counter(), 0
    with progress:
        for step in range(start_step, max_steps):
            if grad_every > 0 and step % grad_every == 0:
                measure_gradients(step)  # step 0 is measured before any update

            x, y = task.train_batch(cfg.seed, step)
            pred, _ = model(x)
            loss = task.loss(pred, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = get_total_norm([p.grad for p in params if p.grad is not None])
            loss_value, norm_value = loss.item(), grad_norm.item()

            if math.isfinite(loss_value) and math.isfinite(norm_value):
                consecutive_nonfinite = 0
                clipped = clip is not None and norm_value > clip
                if clipped:
                    clip_grads_with_norm_(params, clip, grad_norm)
                    clipped_total += 1
                optimizer.step()
                if last_norm and norm_value > last_norm * 10**tcfg.grad_jump_decades:
                    log.warning(
                        "step %d: gradient norm jumped from %.3g to %.3g (%.1f orders of "
                        "magnitude)%s",
                        step + 1,
                        last_norm,
                        norm_value,
                        math.log10(norm_value / last_norm),
                        "" if clip else "; consider trainer.clip_grad_norm=1.0",
                    )
                last_norm = norm_value
            else:  # skip the update; the weights stay those of the last good step
                nonfinite_total += 1
                consecutive_nonfinite += 1
                if consecutive_nonfinite >= tcfg.max_nonfinite_steps:
                    writer.scalars({"train/nonfinite_steps": nonfinite_total}, step + 1)
                    writer.close()
                    raise TrainingDiverged(
                        f"loss or gradient was NaN/inf for {consecutive_nonfinite} steps in a "
                        f"row (up to step {step + 1}); stopped. The last good checkpoint is kept "
                        f"at {ckpt_file if ckpt_file.exists() else '(none written yet)'}. Try a "
                        "lower optim.lr or trainer.clip_grad_norm=1.0"
                    )

            done = step + 1
            window_steps += 1
            if done % tcfg.log_every_n_steps == 0 or done == max_steps:
                elapsed = time.perf_counter() - window_start
                rate = window_steps / elapsed if elapsed > 0 else 0.0
                window_start, window_steps = time.perf_counter(), 0
                writer.scalars(
                    {
                        "train/loss": loss_value,
                        "train/grad_norm": norm_value,
                        "train/grad_norm_clipped": min(norm_value, clip) if clip else norm_value,
                        "train/clipped_fraction": clipped_total / done,
                        "train/nonfinite_steps": nonfinite_total,
                        "train/lr": optimizer.param_groups[0]["lr"],
                        "train/steps_per_sec": rate,
                    },
                    done,
                )
                progress.update(bar, loss=loss_value, rate=rate)
            progress.update(bar, completed=done)

            if done % tcfg.val_every_n_steps == 0 or done == max_steps:
                val_metrics = evaluate(model, task)
                writer.scalars({f"val/{k}": v for k, v in val_metrics.items()}, done)
            if done == max_steps and grad_every > 0:
                measure_gradients(done)  # the last step, after the final update
            if done % tcfg.ckpt_every_n_steps == 0 or done == max_steps:
                save(done)

    # ---- finish -------------------------------------------------------------------------------
    if not val_metrics:  # resumed at or past max_steps: nothing trained, still report
        val_metrics = evaluate(model, task)
    final_step = max(start_step, max_steps)
    writer.scalars({f"final/val_{k}": v for k, v in val_metrics.items()}, final_step)
    writer.close()
    metrics = {f"val/{k}": v for k, v in val_metrics.items()}
    metrics.update(step=final_step, nonfinite_steps=nonfinite_total, clipped_steps=clipped_total)
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


@torch.no_grad()
def evaluate(model: SequenceModel, task: Task, chunk: int = 1024) -> dict[str, float]:
    """Metrics over the fixed validation set, in eval mode (no dropout)."""
    was_training = model.training
    model.eval()
    x, y = task.val_set()
    preds = [model(x[i : i + chunk])[0] for i in range(0, len(x), chunk)]
    model.train(was_training)
    return task.metrics(torch.cat(preds), y)


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
        "data.seq_len": cfg.data.seq_len,
        "data.batch_size": cfg.data.batch_size,
        "model.hidden_size": cfg.model.hidden_size,
        "model.num_layers": cfg.model.num_layers,
    }
    for key, value in positive.items():
        if value < 1:
            raise ConfigError(f"{key}={value} must be a positive integer")
    if g.every_n_steps < 0:
        raise ConfigError(f"grad_log.every_n_steps={g.every_n_steps} must be >= 0 (0 = off)")
    if g.batch_size > cfg.data.val_size:
        raise ConfigError(
            f"grad_log.batch_size={g.batch_size} is larger than the validation set "
            f"(data.val_size={cfg.data.val_size}) it is drawn from; lower it or raise val_size"
        )
    if t.clip_grad_norm is not None and t.clip_grad_norm <= 0:
        raise ConfigError(
            f"trainer.clip_grad_norm={t.clip_grad_norm} must be > 0, or null to turn clipping off"
        )
    if cfg.optim.lr <= 0:
        raise ConfigError(f"optim.lr={cfg.optim.lr} must be > 0")


def check_resumable(checkpoint: dict[str, Any], cfg: DictConfig) -> None:
    """The checkpoint must hold the model (and optimizer) that this config builds."""
    saved = checkpoint["config"]
    for group in ("model", "optim"):
        current = OmegaConf.to_container(cfg[group], resolve=True, enum_to_str=True)
        if group == "optim":  # the learning rate etc. may change on resume; the class may not
            saved_target, current_target = saved[group].get("_target_"), current["_target_"]
            if saved_target != current_target:
                raise CheckpointError(
                    f"checkpoint {cfg.ckpt_path} was trained with {saved_target}, this run asks "
                    f"for {current_target}; choose the same optim=..."
                )
            continue
        if saved[group] != current:
            diff = sorted(
                k for k in set(saved[group]) | set(current) if saved[group].get(k) != current.get(k)
            )
            wanted = " ".join(f"{group}.{k}={saved[group].get(k)}" for k in diff)
            raise CheckpointError(
                f"checkpoint {cfg.ckpt_path} holds a different {group} ({', '.join(diff)} "
                f"differ); resume with the checkpoint's settings: {wanted}"
            )
