#!/usr/bin/env python
"""Speed benchmarks for seqnet: ratios of contenders timed side by side in one run.

    python scripts/bench.py                 # the full run: about 8 minutes on 2 idle CPU cores
                                            # with native bfloat16, 20+ where it is emulated
    python scripts/bench.py --quick         # a smoke test: 2 minutes, 6 where bfloat16 is emulated
    python scripts/bench.py --device cuda --json bench.json --strict

Machines are shared and noisy, so every target is a ratio of two contenders measured in the same
run, interleaved (A B, B A, ...) over several repeats, and compared by their medians; absolute
times are printed for information only. The reference workload is an LSTM (hidden 128, 1 layer)
on the adding problem (batch 64, T=200) trained with Adam (lr 1e-3).

1. seqnet's ``train(cfg)`` against a minimal hand-written PyTorch loop with the same model,
   initial weights, batches and optimizer (target: >= 0.95x its steps/s).
2. The tanh RNN's hand-written loop with and without ``torch.set_flush_denormal(True)``, each in
   a fresh process (for information: the speed-up).
3. One float32 gradient-profile pass (``measure_profile``) against one training step of the same
   model (target: <= 3x); float64 for information.
4. ``train(cfg)`` with gradient profiles every 100 steps against with them off (target: >= 0.95x
   its steps/s).
5. One training step in ``trainer.precision=bf16-mixed`` against float32, LSTM hidden 128 and
   512 (for information; on the CPU by default), with the difference of their loss curves.
6. For every registered task (its default config, the reference LSTM): making one training
   batch against one whole training step (target: <= 0.05x, so data loading does not show).
7. The engine running the standard LSTM cell against the fused ``nn.LSTM`` (target: <= 1.3x its
   training-step time) and every variant, zoneout included (target: <= 1.5x).
8. The engine LSTM's step time at T = 100, 200, 400, 800 (target: within 10% of a line).
9. minGRU / minLSTM trained with the parallel scan against the fused ``nn.GRU`` (target: >= 3x
   faster at T=200; the other lengths for information).
10. rnn / lstm / gru on the engine against the fused kernel on this device (information: what
    ``model.backend=auto`` should run here).
11. ``model.compile=true`` (``torch.compile``) of the engine's LSTM step, of a variant's step and
    of minGRU's scan against eager (information, with the compile time).
12. minGRU / minLSTM with the scan in linear space against log space on this device
    (information: what ``seqnet.models.scan.default_space`` should pick here).
13. For every file task (``data=timeseries``, ``arrays`` memory-mapped and in memory, ``text``,
    ``idx``) on files written for the run: a training batch against a training step (target:
    <= 0.05x, as 6).

Each measurement lives in ``scripts/benchmarks/`` beside the harness (``harness.py``: timing,
quiet/busy repeats, the table) and the workload (``workload.py``: settings, the hand-written
baseline, seqnet runs). ``--only NAME`` runs a subset (names: see ``BENCHMARKS``).

Exit status 0 whatever the results (it is a benchmark, not a test), unless ``--strict``: then 1
when a target fails. With ``--device cuda`` when CUDA is unavailable: an error and status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

# Only the standard library and torch before main() has set the denormal flag (per thread,
# before any tensor work); the benchmark modules import seqnet inside their functions.
import torch

from benchmarks.compile import bench_compile
from benchmarks.data import bench_data
from benchmarks.denormal import bench_denormal, denormal_worker
from benchmarks.engine import bench_backends, bench_engine, bench_growth
from benchmarks.files import bench_files
from benchmarks.harness import BUSY_SHARE, OthersMeter, Result, print_details, print_table
from benchmarks.machine import describe_machine, machine_line
from benchmarks.precision import bench_precision
from benchmarks.profiles import bench_profile
from benchmarks.scan import bench_scan_space
from benchmarks.training import bench_grad_log, bench_loop
from benchmarks.workload import (
    BASELINE_NOTE,
    BATCH,
    FULL,
    HIDDEN,
    LR,
    QUICK,
    SEQ_LEN,
    SeqnetRuns,
    Settings,
    hand_train,
)


@dataclass
class Context:
    """What every measurement gets: seqnet runs in a scratch folder, the settings, the device."""

    runs: SeqnetRuns
    settings: Settings
    device: torch.device


#: name -> (title, run(ctx) -> results, CPU only). A new measurement is a module in
#: scripts/benchmarks/ and one line here.
BENCHMARKS: dict[str, tuple[str, Callable[[Context], list[Result]], bool]] = {
    "loop": (
        "seqnet train() vs hand-written loop",
        lambda c: [bench_loop(c.runs, c.settings, c.device)],
        False,
    ),
    "denormal": (
        "flush denormals on vs off (fresh processes)",
        lambda c: [bench_denormal(c.settings)],
        True,
    ),
    "profile": (
        "gradient profile vs training step",
        lambda c: bench_profile(c.runs, c.settings, c.device),
        False,
    ),
    "grad_log": (
        "train() with grad logging vs without",
        lambda c: [bench_grad_log(c.runs, c.settings)],
        False,
    ),
    "precision": (
        "bf16-mixed vs 32 training steps (LSTM hidden 128, 512)",
        lambda c: bench_precision(c.runs, c.settings, c.device),
        False,
    ),
    "data": (
        "training batch vs training step, every task",
        lambda c: bench_data(c.settings, c.device),
        False,
    ),
    "engine": (
        "engine LSTM and every variant vs fused nn.LSTM (train step)",
        lambda c: bench_engine(c.runs, c.settings, c.device),
        False,
    ),
    "growth": (
        "engine step time against T; minGRU/minLSTM scan vs fused nn.GRU",
        lambda c: bench_growth(c.runs, c.settings, c.device),
        False,
    ),
    "backends": (
        "rnn/lstm/gru: engine vs fused kernel on this device",
        lambda c: bench_backends(c.runs, c.settings, c.device),
        False,
    ),
    "compile": (
        "model.compile on the engine and the scan (information)",
        lambda c: bench_compile(c.runs, c.settings, c.device),
        False,
    ),
    "scan": (
        "minGRU/minLSTM scan: linear vs log space on this device",
        lambda c: bench_scan_space(c.runs, c.settings, c.device),
        False,
    ),
    "files": (
        "training batch vs training step, every file task (files written here)",
        lambda c: bench_files(c.settings, c.device),
        False,
    ),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer steps and repeats (smoke test)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    p.add_argument(
        "--no-reuse-memory",
        action="store_true",
        help="leave glibc's malloc at its defaults (seqnet's trainer.reuse_cpu_memory=false)",
    )
    p.add_argument(
        "--only",
        action="append",
        choices=list(BENCHMARKS),
        help="run only this measurement (repeatable)",
    )
    p.add_argument("--_denormal-worker", choices=("on", "off"), help=argparse.SUPPRESS)
    p.add_argument("--_worker-steps", type=int, default=FULL.denormal_steps, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args._denormal_worker:
        denormal_worker(args._denormal_worker, args._worker_steps, args.threads)
        return 0
    # seqnet's train() does this too on CPU; set it before any tensor work so that the
    # hand-written loop (and every intra-op worker thread) runs under the same flag.
    torch.set_flush_denormal(True)
    reuse_memory = False
    if not args.no_reuse_memory:  # as train() does by default (trainer.reuse_cpu_memory)
        from seqnet.training.device import reuse_cpu_memory

        reuse_memory = reuse_cpu_memory()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        print(
            "bench.py: error: --device cuda was requested but CUDA is not available here "
            f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'none'}); "
            "run with --device cpu",
            file=sys.stderr,
        )
        return 2
    device = torch.device(args.device)
    s = QUICK if args.quick else FULL
    machine = describe_machine(device)
    print(
        f"seqnet benchmark ({'quick' if args.quick else 'full'}): device {device}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()}, "
        f"CPU memory reuse (glibc malloc) {'on' if reuse_memory else 'off'}\n"
        f"{machine_line(machine)}\n"
        f"workload: LSTM hidden {HIDDEN}, 1 layer, batch {BATCH}, T={SEQ_LEN}, adding problem, "
        f"Adam lr {LR:g}\n{BASELINE_NOTE}\n"
        "contenders interleaved (A B, B A, ...); medians over repeats\n"
    )

    started, meter = time.perf_counter(), OthersMeter()
    results: list[Result] = []
    chosen = [name for name in BENCHMARKS if not args.only or name in args.only]
    with tempfile.TemporaryDirectory(prefix="seqnet-bench-") as tmp:
        ctx = Context(SeqnetRuns(Path(tmp), device), s, device)
        # Warm-up, untimed: imports (hydra, tensorboard, matplotlib for the heatmaps), oneDNN
        # primitives, the allocator.
        ctx.runs.train(4, grad_every=2)
        from seqnet.data.tasks.adding import AddingProblem

        hand_train(AddingProblem(seq_len=SEQ_LEN, batch_size=BATCH, device=device), 4, device)
        for i, name in enumerate(chosen, 1):
            title, run, cpu_only = BENCHMARKS[name]
            if cpu_only and device.type != "cpu":
                print(f"[{i}/{len(chosen)}] skipped: {title} is a CPU measurement")
                continue
            print(f"[{i}/{len(chosen)}] {title} ...", flush=True)
            results.extend(run(ctx))
    wall, others = time.perf_counter() - started, meter.share()

    print()
    print_table(results)
    print_details(results)
    loop = [r for r in results if "same_workload" in r.details]
    if loop:
        check = loop[0].details
        print(
            f"\nsame-workload check (1): final val loss seqnet {check['seqnet_val_loss']:.6g}, "
            f"hand {check['hand_val_loss']:.6g}: "
            + ("identical" if check["same_workload"] else "DIFFERENT, the baseline is not a mirror")
        )
    print(
        f"wall time {wall:.0f} s; other processes used {others:.0%} of the CPUs meanwhile"
        + (" (results are noisy)" if others > BUSY_SHARE else "")
    )
    failed = [r.name.strip() for r in results if r.passed is False]
    if failed:
        print("targets missed: " + "; ".join(failed))
    if args.json:
        report = {
            "machine": machine,
            "device": str(device),
            "quick": args.quick,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "cpus": os.cpu_count(),
            "reuse_cpu_memory": reuse_memory,
            "settings": asdict(s),
            "wall_s": wall,
            "others_cpu_share": others,
            "results": [{**asdict(r), "ratio": r.ratio, "passed": r.passed} for r in results],
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
