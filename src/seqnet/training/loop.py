"""The training loop, top to bottom: set up, then get batch, forward, backward, clip, step, the
next learning rate, log, validate (early stopping), checkpoint. Gradient profiles are measured
at step 0, every ``grad_log.every_n_steps`` and at the last step (``GradientMonitor``).

Set-up lives in small functions named for what they build (``training/build.py``), resuming in
one object (``training/resume.py``), evaluation in ``training/evaluation.py`` and the per-step
watches in ``training/step_health.py``, so that the loop itself stays short enough to read in
one go.
"""

from __future__ import annotations

import json
import logging
import math
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from hydra.utils import instantiate
from omegaconf import DictConfig
from torch.nn.utils import clip_grads_with_norm_, get_total_norm

from seqnet.atomic import atomic_write
from seqnet.errors import output_error
from seqnet.gradients import GRADIENTS_FILE
from seqnet.tblog.progress import training_progress
from seqnet.training import run_folder
from seqnet.training.build import build_task_and_model, open_writer, setup_device
from seqnet.training.carried_state import CarriedState
from seqnet.training.checkpoint import (
    Counters,
    checkpoint_payload,
    checkpoint_write_error,
    own_checkpoint,
    save_checkpoint,
)
from seqnet.training.checks import check_config, check_probe_batch
from seqnet.training.distributed import (
    agree_on_step,
    average_gradients,
    check_batch_divisible,
    gather_rng_states,
    gather_state_rows,
    join_process_group,
    seed_rank_generator,
    shard,
)
from seqnet.training.early_stopping import EarlyStopping, best_checkpoint
from seqnet.training.evaluation import evaluate, evaluate_test_set
from seqnet.training.gradient_monitor import GradientMonitor
from seqnet.training.lr_schedule import build_schedule
from seqnet.training.precision import MixedPrecision
from seqnet.training.preemption import StopSignals
from seqnet.training.resume import Resume
from seqnet.training.seeding import seed_everything
from seqnet.training.step_health import (
    GarbageWatch,
    Throughput,
    check_finite_state,
    diverged,
    warn_on_jump,
)

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> dict[str, float]:
    """Train ``cfg.model`` on ``cfg.data``; returns the final validation metrics. The stop
    signals are caught from the start (a SIGTERM during set-up stops the run before its first
    step), and the run folder is this process's from ``run_folder.enter`` to the end."""
    check_config(cfg)  # validate everything the user gave before any work
    with StopSignals() as signals, ExitStack() as owned:
        return _train(cfg, signals, owned)


def _train(cfg: DictConfig, signals: StopSignals, owned: ExitStack) -> dict[str, float]:
    tcfg = cfg.trainer
    run_dir = Path(cfg.paths.run_dir)
    ranks = join_process_group()
    check_batch_divisible(cfg.data.batch_size, ranks)
    device = setup_device(tcfg, ranks)
    precision = MixedPrecision(tcfg.precision, device)
    resume = Resume.find(cfg, run_dir)  # ckpt_path resolved, loaded and checked: no work yet
    if resume.finished:  # this folder's run is done: report it, change nothing
        return resume.finished

    # ---- build ------------------------------------------------------------------------------
    seed_everything(cfg.seed)
    task, model = build_task_and_model(cfg, device)
    check_probe_batch(task, cfg.grad_log)
    optimizer = instantiate(cfg.optim)(model.parameters())
    schedule = build_schedule(cfg, optimizer)  # scheduler=...; None: a constant optim.lr
    stopper = EarlyStopping(tcfg.early_stopping)  # off unless trainer.early_stopping.metric
    carried = CarriedState(task, device)  # truncated BPTT: the state between batches
    counters = Counters()
    if resume:  # weights, optimizer, loss scaler, RNG states, counters and carried state
        counters = resume.restore(model, optimizer, precision, carried, ranks, schedule, stopper)
    seed_rank_generator(cfg.seed, counters.step, ranks, resume.rank_rng)
    run_folder.enter(run_dir, cfg.ckpt_path)  # refused if another run owns it: nothing written
    owned.callback(run_folder.release, run_dir)  # the lock goes back when the run ends
    writer = open_writer(cfg, run_dir, ranks, hparams=not resume.in_place)
    grads = GradientMonitor(
        cfg.grad_log, model, task, writer, run_dir, tcfg.max_steps, enabled=ranks.is_main
    )
    grads.continue_history(resume, cfg)  # a resumed run's earlier profiles, where comparable
    ckpt_file = own_checkpoint(run_dir)
    saved_step = [resume.step] if resume.in_place else [None]  # the checkpoint there now

    def save(step: int, path: Path = ckpt_file, final: bool = False) -> None:
        carried_state = gather_state_rows(carried.state, ranks)  # every rank takes part
        rank_rng = gather_rng_states(ranks)  # each rank's dropout generator
        if not ranks.is_main:
            return
        payload = checkpoint_payload(cfg, model, optimizer, step, counters, precision)
        if rank_rng is not None:
            payload["rank_rng"] = rank_rng
        check_finite_state(step, payload["model"], payload["optimizer"]["state"], ckpt_file)
        payload["carried_state"] = carried_state  # truncated BPTT resumes mid-stream
        payload["scheduler"] = schedule.state_dict() if schedule is not None else None
        payload["early_stopping"] = stopper.state_dict()
        best = path != ckpt_file  # checkpoints/best.pt: a copy, not the run's own state
        try:
            save_checkpoint(path, payload)
        except OSError as e:  # a full disk, a folder gone read-only: the old file is intact
            raise checkpoint_write_error(path, e, None if best else saved_step[0]) from e
        if best:
            return
        saved_step[0] = step
        try:
            grads.save(step, final)  # gradient files follow the checkpoint (a preempted run)
        except OSError as e:
            raise output_error(run_dir / GRADIENTS_FILE, e) from e
        writer.flush()

    # ---- the loop -------------------------------------------------------------------------
    # Read once: an OmegaConf attribute lookup costs microseconds, and these are used every step.
    max_steps, clip, seed = tcfg.max_steps, tcfg.clip_grad_norm, cfg.seed
    log_every, val_every = tcfg.log_every_n_steps, tcfg.val_every_n_steps
    ckpt_every, jump_decades = tcfg.ckpt_every_n_steps, tcfg.grad_jump_decades
    max_nonfinite = tcfg.max_nonfinite_steps
    params = [p for p in model.parameters() if p.requires_grad]
    consecutive_nonfinite, last_norm = 0, None
    val_metrics: dict[str, float] = {}
    model.train()
    progress = training_progress(tcfg.progress_bar and ranks.is_main)
    bar = progress.add_task(
        "train", total=max_steps, completed=counters.step, loss=math.nan, rate=0.0
    )
    throughput = Throughput()
    garbage = GarbageWatch(cfg.optim.lr)
    if signals.requested:  # a stop signal during set-up: nothing trained, nothing written
        writer.close()
        raise signals.preempted_in_setup(counters.step, resume.path)
    with progress:
        for step in range(counters.step, max_steps):
            if grads.due(step):
                grads.measure(step)  # step 0 is measured before any update

            lr = optimizer.param_groups[0]["lr"]  # this update's (train/lr)
            x, y = shard(task.train_batch(seed, step), ranks)
            with precision.autocast():
                pred, final_state = model(x, carried.initial(step), targets=y)
                loss = task.loss(pred, y)
            optimizer.zero_grad(set_to_none=True)
            precision.backward(loss)
            average_gradients(params, ranks)
            precision.unscale(optimizer)
            grad_norm = get_total_norm([p.grad for p in params if p.grad is not None])
            loss_value, norm_value, stop = agree_on_step(loss, grad_norm, signals.requested, ranks)

            if math.isfinite(loss_value) and math.isfinite(norm_value):
                consecutive_nonfinite = 0
                if clip is not None and norm_value > clip:
                    clip_grads_with_norm_(params, clip, grad_norm)
                    counters.clipped_steps += 1
                precision.step(optimizer)
                carried.keep(step, final_state)
                warn_on_jump(step + 1, last_norm, norm_value, jump_decades, clip)
                last_norm = norm_value
            elif precision.scale_overflowed(loss_value):  # 16-mixed: the scaler lowers its scale
                precision.skip()
                carried.keep(step, final_state)  # the forward pass was finite
            else:  # skip the update; the weights stay those of the last good step
                precision.skip()
                carried.keep(step, None)
                counters.nonfinite_steps += 1
                consecutive_nonfinite += 1
                if consecutive_nonfinite >= max_nonfinite:
                    writer.scalars({"train/nonfinite_steps": counters.nonfinite_steps}, step + 1)
                    writer.close()
                    raise diverged(consecutive_nonfinite, step + 1, ckpt_file)
            if schedule is not None:
                schedule.step()  # the next update's lr: warm-up, then scheduler=...

            done = counters.step = step + 1
            garbage.train_loss(done, loss_value)
            throughput.tick()
            if done % log_every == 0 or done == max_steps:
                rate = throughput.rate()
                writer.scalars(
                    {
                        "train/loss": loss_value,
                        "train/grad_norm": norm_value,
                        "train/grad_norm_clipped": min(norm_value, clip) if clip else norm_value,
                        "train/clipped_fraction": counters.clipped_steps / done,
                        "train/nonfinite_steps": counters.nonfinite_steps,
                        "train/lr": lr,
                        "train/steps_per_sec": rate,
                        **precision.scalars(),
                    },
                    done,
                )
                progress.update(bar, loss=loss_value, rate=rate)
            progress.update(bar, completed=done)

            if done % val_every == 0 or done == max_steps:
                with precision.autocast():
                    val_metrics = evaluate(model, task)
                writer.scalars({f"val/{k}": v for k, v in val_metrics.items()}, done)
                log.info("validation at step %d: %s", done, metric_line(val_metrics, "val/"))
                garbage.val_loss(done, val_metrics.get("loss", math.nan))
                if schedule is not None:
                    schedule.validated(val_metrics)  # scheduler=plateau: on scheduler.monitor
                if stopper.update(done, val_metrics) and stopper.save_best:
                    save(done, best_checkpoint(run_dir))  # the best validation so far
            last = done == max_steps or stopper.stopped
            if last and grads.enabled:
                grads.measure(done)  # the last step, after the final update
            if done % ckpt_every == 0 or last or stop:
                save(done, final=last)
            if stopper.stopped:  # early stopping: checkpoint written, the run is done
                log.info("stopped early at step %d: %s", done, stopper.reason)
                break
            if stop and done < max_steps:  # preempted: checkpoint written, hand over
                writer.close()
                raise signals.preempted(done, ckpt_file)

    # ---- finish -------------------------------------------------------------------------------
    if not val_metrics:  # resumed at or past max_steps: nothing trained, still report
        with precision.autocast():  # as every other evaluation of this run
            val_metrics = evaluate(model, task)
    final_step = counters.step if stopper.stopped else max(counters.step, max_steps)
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
        **stopper.summary(),  # with early stopping: stopped_early, best_step, best_value
    )
    if ranks.is_main:
        try:
            with atomic_write(run_dir / "metrics.json") as f:  # whole, or the previous one
                f.write((json.dumps(metrics, indent=2) + "\n").encode())
        except OSError as e:
            raise output_error(run_dir / "metrics.json", e) from e
    return metrics


def metric_line(metrics: dict[str, float], prefix: str = "") -> str:
    """``val/loss 0.1234, val/accuracy 0.5``: every metric, for the log."""
    return ", ".join(f"{prefix}{k} {v:.6g}" for k, v in metrics.items())
