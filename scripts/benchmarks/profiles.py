"""3: one gradient-profile pass against one training step of the same model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from benchmarks.harness import Result, run_repeats, summarise, timed
from benchmarks.workload import BATCH, LR, SEED, SEQ_LEN, SeqnetRuns, Settings


def bench_profile(runs: SeqnetRuns, s: Settings, device: torch.device) -> list[Result]:
    """3. One measure_profile pass (probe batch 64, loss at the last output) vs one training
    step (forward, backward, Adam) of the same seqnet model; interleaved, medians."""
    from seqnet.data.tasks.adding import AddingProblem
    from seqnet.gradients import measure_profile
    from seqnet.models import build_model

    cfg = runs.config()
    task = AddingProblem(seq_len=SEQ_LEN, batch_size=BATCH, device=device)
    torch.manual_seed(SEED)
    model = build_model(cfg.model, task.spec).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    x_val, y_val = task.val_set()
    probe_batch = (x_val[:BATCH], y_val[:BATCH])
    step = 0

    def train_step() -> None:
        nonlocal step
        x, y = task.train_batch(SEED, step)
        loss = task.loss(model(x)[0], y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss.item()
        step += 1

    contenders: dict[str, Callable[[], Any]] = {
        "step": train_step,
        "float32": lambda: measure_profile(model, task, probe_batch, step, "float32", "last"),
        "float64": lambda: measure_profile(model, task, probe_batch, step, "float64", "last"),
    }
    for fn in contenders.values():  # warm-up: allocator, oneDNN primitives, the first deepcopy
        fn()

    def one(r: int) -> dict[str, float]:
        order = list(contenders) if r % 2 == 0 else list(contenders)[::-1]
        return {name: 1e3 * timed(device, contenders[name])[0] for name in order}

    ms, used_busy, details = summarise(run_repeats("3", one, s.profile_repeats), s.profile_repeats)

    def row(name: str, dtype: str, target: str, extra: dict[str, Any]) -> Result:
        return Result(
            name, "profile", ms[dtype], "step", ms["step"], "ms", target, used_busy, extra
        )

    return [
        row("3 gradient profile (float32) vs training step", "float32", "<=3", details),
        row("  gradient profile (float64) vs training step", "float64", "info", {}),
    ]
