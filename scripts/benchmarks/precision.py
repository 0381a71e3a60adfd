"""5: training steps in bf16-mixed against float32 (trainer.precision), LSTM hidden 128 and 512."""

from __future__ import annotations

import statistics
from typing import Any

import torch

from benchmarks.harness import Result, run_repeats, summarise, timed
from benchmarks.workload import BATCH, LR, SEED, SEQ_LEN, SeqnetRuns, Settings

HIDDEN_SIZES = (128, 512)


def bench_precision(runs: SeqnetRuns, s: Settings, device: torch.device) -> list[Result]:
    """5. One training step of seqnet's LSTM (forward under autocast, backward, Adam, as train()
    runs it through ``MixedPrecision``) in bf16-mixed against float32, at hidden 128 and 512.
    Both start from the same weights and see the same batches, so their loss curves over the
    timed steps are compared too (``loss_curve_*`` in the details)."""
    return [result for hidden in HIDDEN_SIZES for result in _one_size(runs, s, device, hidden)]


def _one_size(runs: SeqnetRuns, s: Settings, device: torch.device, hidden: int) -> list[Result]:
    from seqnet.data.tasks.adding import AddingProblem
    from seqnet.models import build_model
    from seqnet.training.precision import MixedPrecision

    cfg = runs.config(f"model.hidden_size={hidden}")
    task = AddingProblem(seq_len=SEQ_LEN, batch_size=BATCH, device=device)
    contenders: dict[str, dict[str, Any]] = {}
    for name in ("bf16-mixed", "32"):
        torch.manual_seed(SEED)
        model = build_model(cfg.model, task.spec).to(device)
        contenders[name] = {
            "model": model,
            "optimizer": torch.optim.Adam(model.parameters(), lr=LR),
            "precision": MixedPrecision(name, device),
            "step": 0,
            "losses": [],
        }

    def train_step(c: dict[str, Any]) -> None:
        x, y = task.train_batch(SEED, c["step"])
        with c["precision"].autocast():
            loss = task.loss(c["model"](x)[0], y)
        c["optimizer"].zero_grad(set_to_none=True)
        c["precision"].backward(loss)
        c["precision"].step(c["optimizer"])
        c["losses"].append(loss.item())
        c["step"] += 1

    for c in contenders.values():  # warm-up: oneDNN primitives for both dtypes, the allocator
        for _ in range(2):
            train_step(c)

    def one(r: int) -> dict[str, float]:
        order = list(contenders) if r % 2 == 0 else list(contenders)[::-1]
        return {
            name: 1e3
            * statistics.median(
                timed(device, lambda c=contenders[name]: train_step(c))[0]
                for _ in range(s.precision_steps)
            )
            for name in order
        }

    ms, used_busy, details = summarise(
        run_repeats(f"5 (hidden {hidden})", one, s.precision_repeats), s.precision_repeats
    )
    bf16, fp32 = (contenders[n]["losses"] for n in ("bf16-mixed", "32"))
    gaps = [abs(a - b) / abs(b) for a, b in zip(bf16, fp32, strict=True) if b]
    details.update(
        loss_curve_steps=len(fp32),
        loss_curve_first_last_fp32=(round(fp32[0], 5), round(fp32[-1], 5)),
        loss_curve_first_last_bf16=(round(bf16[0], 5), round(bf16[-1], 5)),
        loss_curve_max_relative_gap=round(max(gaps), 5),
        loss_curve_mean_relative_gap=round(statistics.fmean(gaps), 5),
    )
    return [
        Result(
            f"5 bf16-mixed vs 32: one training step, LSTM hidden {hidden}",
            "bf16",
            ms["bf16-mixed"],
            "fp32",
            ms["32"],
            "ms",
            "info",
            used_busy,
            details,
        )
    ]
