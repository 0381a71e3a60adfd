#!/usr/bin/env python
"""Where a training step's time goes: the fused ``nn.LSTM`` (oneDNN), the engine's LSTM kernel in
pure PyTorch and in C++ (``seqnet.models.kernels.native``), on the benchmark's reference workload
(``scripts/bench.py``: LSTM hidden 128, batch 64, T=200, the adding problem, Adam).

    python scripts/profile_engine.py            # 5 profiled steps each, after 3 warm-up steps

glibc's malloc is set to reuse memory, as ``train()`` does. For each contender: the median wall
time of a training step (20 steps, outside the profiler), then torch.profiler's self CPU time
per step of the operators that take the most, with their calls per step. The docs' performance
page quotes a run of it.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))
torch.set_flush_denormal(True)  # as seqnet's trainer and bench.py

CONTENDERS = {
    "fused nn.LSTM": (["model=lstm", "model.backend=fused"], "1"),
    "engine, pure PyTorch kernel": (["model=lstm", "model.backend=stepped"], "0"),
    "engine, C++ kernel": (["model=lstm", "model.backend=stepped"], "1"),
}
PROFILED, TIMED, ROWS = 5, 20, 8


def main() -> None:
    from benchmarks.engine import training_step
    from benchmarks.machine import describe_machine, machine_line
    from benchmarks.workload import SEQ_LEN, SeqnetRuns
    from seqnet.models.kernels import native
    from seqnet.training.device import reuse_cpu_memory

    reuse_cpu_memory()  # as train() and bench.py do by default (trainer.reuse_cpu_memory)
    device = torch.device("cpu")
    native.ops()  # built (or found) before anything is timed
    print(machine_line(describe_machine(device)))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    runs = SeqnetRuns(Path(tempfile.mkdtemp(prefix="seqnet-profile-")), device)
    for name, (overrides, kernels) in CONTENDERS.items():
        os.environ[native.ENABLE_ENV] = kernels
        step = training_step(runs, device, SEQ_LEN, *overrides)
        for _ in range(3):
            step()
        times = []
        for _ in range(TIMED):
            started = time.perf_counter()
            step()
            times.append(time.perf_counter() - started)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(PROFILED):
                step()
        events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
        total = sum(e.self_cpu_time_total for e in events) / PROFILED / 1e3
        print(f"{name}: {1e3 * statistics.median(times):.1f} ms a step "
              f"(profiled: {total:.1f} ms of self CPU time a step)")  # fmt: skip
        print(f"  {'operator':<34} {'ms/step':>8} {'calls/step':>11}")
        for e in events[:ROWS]:
            ms = e.self_cpu_time_total / PROFILED / 1e3
            print(f"  {e.key[:34]:<34} {ms:8.2f} {e.count / PROFILED:11.0f}")
        print()


if __name__ == "__main__":
    main()
