"""2: the tanh RNN with and without flushing denormals, each setting in a fresh process."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from benchmarks.harness import Result, median, run_repeats, summarise
from benchmarks.workload import BATCH, LR, SEED, SEQ_LEN, HandModel, Settings, hand_step

#: The driver script, which runs ``denormal_worker`` when given ``--_denormal-worker``.
DRIVER = Path(__file__).resolve().parents[1] / "bench.py"


def bench_denormal(s: Settings) -> Result:
    """2. The tanh RNN with and without flushing denormals, each in a fresh process, since the
    flag must be set before the process does any tensor work. Steps/s = 1 / median step time."""

    def worker(flag: str) -> list[float]:
        cmd = [
            sys.executable,
            str(DRIVER),
            "--_denormal-worker",
            flag,
            "--_worker-steps",
            str(s.denormal_steps),
            "--threads",
            str(torch.get_num_threads()),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"denormal worker ({flag}) failed:\n{proc.stderr}")
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        if not out["flush_supported"]:
            print("      warning: torch.set_flush_denormal is not supported on this CPU")
        return out["step_times"][s.denormal_warmup :]

    quarters: dict[str, list[tuple[float, float]]] = {"on": [], "off": []}

    def one(r: int) -> dict[str, float]:
        rates = {}
        for flag in ("on", "off") if r % 2 == 0 else ("off", "on"):
            times = worker(flag)
            q = max(len(times) // 4, 1)
            quarters[flag].append(
                (
                    round(1e3 * statistics.fmean(times[:q]), 1),
                    round(1e3 * statistics.fmean(times[-q:]), 1),
                )
            )
            rates[flag] = 1 / median(times)
        return rates

    med, used_busy, details = summarise(
        run_repeats("2", one, s.denormal_repeats), s.denormal_repeats
    )
    details.update(
        first_vs_last_quarter_mean_step_ms=quarters,
        steps_per_process=f"{s.denormal_steps} ({s.denormal_warmup} warm-up left out)",
    )
    return Result(
        "2 flush denormals on vs off (tanh RNN, 1 process each)",
        "on",
        med["on"],
        "off",
        med["off"],
        "steps/s",
        "info",
        used_busy,
        details,
    )


def denormal_worker(flag: str, steps: int, threads: int | None) -> None:
    """Child process: set the flag first, then train the tanh RNN and print the step times."""
    supported = torch.set_flush_denormal(flag == "on")
    if threads:
        torch.set_num_threads(threads)
    from seqnet.data.tasks.adding import AddingProblem

    task = AddingProblem(seq_len=SEQ_LEN, batch_size=BATCH)
    torch.manual_seed(SEED)
    model = HandModel("rnn")
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    step_times = []
    for step in range(steps):
        start = time.perf_counter()
        hand_step(model, optimizer, task, step)
        step_times.append(time.perf_counter() - start)
    print(json.dumps({"flag": flag, "flush_supported": supported, "step_times": step_times}))
