"""1 and 4: seqnet's ``train()`` against the hand-written loop, and with gradient logging against
without; steady-state steps/s from runs of two lengths."""

from __future__ import annotations

import math

import torch

from benchmarks.harness import Result, run_repeats, summarise, timed
from benchmarks.workload import BATCH, QUICK, SEQ_LEN, SeqnetRuns, Settings, hand_train


def bench_loop(runs: SeqnetRuns, s: Settings, device: torch.device) -> Result:
    """1. seqnet's train(cfg) vs the hand-written loop, steps/s.

    Each side runs twice from scratch, ``short_steps`` and ``long_steps`` long. The fixed costs
    (building; for seqnet also the run folder, TensorBoard writer, final validation and
    checkpoint) are the same in both runs, so (long - short) steps over the difference of the wall
    times is the steady-state rate; both contenders are timed this same way. Who goes first
    alternates from repeat to repeat.
    """
    from seqnet.data.tasks.adding import AddingProblem

    task = AddingProblem(seq_len=SEQ_LEN, batch_size=BATCH, device=device)
    extra = s.long_steps - s.short_steps
    check: dict[str, float] = {}

    def seqnet_rate() -> float:
        t_short, _ = runs.train(s.short_steps)
        t_long, metrics = runs.train(s.long_steps)
        check.setdefault("seqnet_val_loss", metrics["val/loss"])
        return extra / (t_long - t_short) if t_long > t_short else math.nan

    def hand_rate() -> float:
        t_short, _ = timed(device, lambda: hand_train(task, s.short_steps, device))
        t_long, model = timed(device, lambda: hand_train(task, s.long_steps, device))
        if "hand_val_loss" not in check:  # untimed: the same-workload check
            x_val, y_val = task.val_set()
            with torch.no_grad():
                pred = model.eval()(x_val).squeeze(-1)
            check["hand_val_loss"] = float(torch.mean((pred.double() - y_val.double()) ** 2))
        return extra / (t_long - t_short) if t_long > t_short else math.nan

    def one(r: int) -> dict[str, float]:
        order = [("seqnet", seqnet_rate), ("hand", hand_rate)]
        return {name: fn() for name, fn in (order if r % 2 == 0 else order[::-1])}

    med, used_busy, details = summarise(run_repeats("1", one, s.repeats), s.repeats)
    same = math.isclose(check["seqnet_val_loss"], check["hand_val_loss"], rel_tol=1e-3)
    details.update(timed_steps=f"{s.long_steps} - {s.short_steps}", same_workload=same, **check)
    return Result(
        "1 seqnet train() vs hand-written loop (LSTM)",
        "seqnet",
        med["seqnet"],
        "hand",
        med["hand"],
        "steps/s",
        ">=0.95",
        used_busy,
        details,
    )


def bench_grad_log(runs: SeqnetRuns, s: Settings) -> Result:
    """4. train(cfg) with profiles every ``grad_every`` steps vs off: steady-state steps/s; the
    ratio is the median of the per-repeat ratios (on and off run back to back in each repeat).

    Timed as measurement 1: runs of ``grad_short`` and ``grad_long`` steps, (long - short) steps
    over the difference of their wall times. With both lengths multiples of ``grad_every``, the
    difference holds exactly one profile per ``grad_every`` steps, as a long run does; the fixed
    costs (the extra profile at step 0, the heatmaps drawn once at the end, set-up, the final
    validation and checkpoint) cancel. The whole long run's steps/s is reported for information.
    """
    extra = s.grad_long - s.grad_short

    def one(r: int) -> dict[str, float]:
        rates = {}
        for flag in ("on", "off") if r % 2 == 0 else ("off", "on"):
            every = s.grad_every if flag == "on" else 0
            t_short, _ = runs.train(s.grad_short, every)
            t_long, _ = runs.train(s.grad_long, every)
            rates[flag] = extra / (t_long - t_short) if t_long > t_short else math.nan
            rates[f"{flag}_whole_run"] = s.grad_long / t_long
        rates["ratio"] = rates["on"] / rates["off"]
        return rates

    med, used_busy, details = summarise(run_repeats("4", one, s.grad_repeats), s.grad_repeats)
    details.update(
        timed_steps=f"{s.grad_long} - {s.grad_short}",
        whole_run_steps_per_s={k: med[f"{k}_whole_run"] for k in ("on", "off")},
    )
    return Result(
        f"4 train() grad_log every {s.grad_every} vs off (steady state)",
        "on",
        med["on"],
        "off",
        med["off"],
        "steps/s",
        # A quick run is too short for the target: a handful of steps per profile.
        "info" if s is QUICK else ">=0.95",
        used_busy,
        details,
        paired_ratio=med["ratio"],
    )
