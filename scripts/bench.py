#!/usr/bin/env python
"""Speed benchmarks for seqnet: ratios of contenders timed side by side in one run.

    python scripts/bench.py                 # the full run, about 6 minutes on 2 idle CPU cores
    python scripts/bench.py --quick         # a smoke test, well under a minute
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

Other processes on a 2-core machine do not just take their share: a PyTorch op whose intra-op
threads wait for a descheduled sibling can run 10-30x slower. So each repeat records how much CPU
other processes used meanwhile (Linux: /proc/stat minus this process and its children); repeats
where they used more than 5% of the machine are "busy", the medians use only quiet repeats when
at least half are quiet (up to as many extra repeats are run to get there), and a result built on
busy repeats is marked "(busy)".

Exit status 0 whatever the results (it is a benchmark, not a test), unless ``--strict``: then 1
when a target fails. With ``--device cuda`` when CUDA is unavailable: an error and status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Only the standard library and torch at module level: the denormal flag is per thread and must
# be set before any tensor work, so seqnet (and what it imports) is imported inside functions,
# after main() or the denormal worker has set the flag.
import torch
from torch import nn
from torch.nn import functional as F

SEED = 42
SEQ_LEN, BATCH, HIDDEN, ENCODER, LR = 200, 64, 128, 32, 1e-3
REFERENCE = [
    "model=lstm",
    f"model.hidden_size={HIDDEN}",
    "model.num_layers=1",
    f"model.encoder_size={ENCODER}",
    f"data.seq_len={SEQ_LEN}",
    f"data.batch_size={BATCH}",
    "optim=adam",
    f"optim.lr={LR}",
    "trainer.progress_bar=false",
    f"seed={SEED}",
]
BASELINE_NOTE = (
    "the hand-written baseline mirrors seqnet's model (which has an input encoder):\n"
    "  Linear(2,32) -> nn.LSTM(32,128, batch_first=True) -> Linear(128,1) on the last step,\n"
    "  forget-gate bias 1, same seed (identical initial weights), same batches\n"
    "  (AddingProblem.train_batch), same Adam; it skips seqnet's grad-norm, logging and checks"
)
#: A repeat is busy when other processes used more than this share of all CPUs meanwhile.
BUSY_SHARE = 0.05


@dataclass(frozen=True)
class Settings:
    """How much to run: the full benchmark or a ``--quick`` smoke test."""

    repeats: int  # measurement 1: interleaved repeats
    short_steps: int  # measurement 1: train runs of two lengths; their difference is timed
    long_steps: int
    denormal_repeats: int  # measurement 2: pairs of fresh processes
    denormal_steps: int
    denormal_warmup: int  # first steps of each process left out of its median
    profile_repeats: int  # measurement 3
    grad_repeats: int  # measurement 4
    grad_short: int  # measurement 4: train runs of two lengths, multiples of grad_every
    grad_long: int
    grad_every: int  # measurement 4: grad_log.every_n_steps when on


FULL = Settings(
    repeats=5,
    short_steps=20,
    long_steps=120,
    denormal_repeats=2,
    denormal_steps=110,
    denormal_warmup=10,
    profile_repeats=15,
    grad_repeats=5,
    grad_short=100,
    grad_long=300,
    grad_every=100,
)
# Every 20 steps in the quick run, so that it still measures profiles between the first and the
# last step; its ratio is therefore not comparable with the full run's.
QUICK = Settings(
    repeats=2,
    short_steps=5,
    long_steps=25,
    denormal_repeats=1,
    denormal_steps=15,
    denormal_warmup=3,
    profile_repeats=4,
    grad_repeats=2,
    grad_short=20,
    grad_long=60,
    grad_every=20,
)


# ---------------------------------------------------------------------------- timing
def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so that the clock reads the work, not its launch."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, fn: Callable[[], Any]) -> tuple[float, Any]:
    sync(device)
    start = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - start, out


def median(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return statistics.median(finite) if finite else math.nan


class OthersMeter:
    """The share of the machine's CPU time that other processes used between start and stop:
    all busy time (/proc/stat) less this process's and its finished children's. NaN where
    /proc/stat does not exist."""

    def __init__(self) -> None:
        self.start_wall, self.start_busy, self.start_own = time.perf_counter(), busy(), own()

    def share(self) -> float:
        wall = time.perf_counter() - self.start_wall
        others = busy() - self.start_busy - (own() - self.start_own)
        if not wall > 0:
            return math.nan
        # Clamped: /proc/stat counts whole ticks, which over a very short window can exceed it.
        return min(max(others, 0.0) / (wall * (os.cpu_count() or 1)), 1.0)


def busy() -> float:
    """CPU seconds all processes have spent busy since boot (NaN off Linux)."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return math.nan
    user, nice, system, _idle, _iowait, irq, softirq = ticks[:7]
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def own() -> float:
    me, children = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


@dataclass
class Repeat:
    values: dict[str, float]
    others: float  # share of all CPUs other processes used during this repeat

    @property
    def quiet(self) -> bool:
        return not self.others > BUSY_SHARE  # NaN (unknown) counts as quiet


def run_repeats(name: str, one: Callable[[int], dict[str, float]], repeats: int) -> list[Repeat]:
    """``repeats`` repeats of ``one(r)``; while fewer than half are quiet, up to as many again."""
    need, done = (repeats + 1) // 2, []
    while len(done) < repeats or (sum(r.quiet for r in done) < need and len(done) < 2 * repeats):
        meter = OthersMeter()
        values = one(len(done))
        done.append(Repeat(values, meter.share()))
        if not done[-1].quiet:
            print(
                f"      {name}: repeat {len(done)} was busy (other processes used "
                f"{done[-1].others:.0%} of the CPUs)",
                flush=True,
            )
    return done


def summarise(repeats: list[Repeat], planned: int) -> tuple[dict[str, float], bool, dict[str, Any]]:
    """Medians of each value over the quiet repeats (over all when fewer than half of the
    ``planned`` number are quiet), whether busy repeats were used, and the raw values."""
    quiet = [r for r in repeats if r.quiet]
    used_busy = len(quiet) < (planned + 1) // 2
    use = repeats if used_busy else quiet
    medians = {k: median([r.values[k] for r in use]) for k in repeats[0].values}
    details: dict[str, Any] = {k: [r.values[k] for r in repeats] for k in repeats[0].values}
    details["others_cpu_share"] = [r.others for r in repeats]
    details["repeats_used"] = f"{len(use)}/{len(repeats)}" + (" (busy)" if used_busy else "")
    return medians, used_busy, details


# ---------------------------------------------------------------------------- contenders
class HandModel(nn.Module):
    """The hand-written baseline, built in the same order as seqnet's model (encoder, core, head)
    so that the same seed gives the same initial weights."""

    def __init__(self, cell: str = "lstm") -> None:
        super().__init__()
        self.encoder = nn.Linear(2, ENCODER)
        if cell == "lstm":
            self.core: nn.Module = nn.LSTM(ENCODER, HIDDEN, batch_first=True)
            with torch.no_grad():  # seqnet's forget_bias=1.0: once, in bias_ih
                self.core.bias_ih_l0[HIDDEN : 2 * HIDDEN] = 1.0
                self.core.bias_hh_l0[HIDDEN : 2 * HIDDEN] = 0.0
        else:
            self.core = nn.RNN(ENCODER, HIDDEN, nonlinearity="tanh", batch_first=True)
        self.head = nn.Linear(HIDDEN, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.core(self.encoder(x))
        return self.head(outputs[:, -1])


def hand_step(model: nn.Module, optimizer: torch.optim.Optimizer, task: Any, step: int) -> None:
    """The minimal training step: batch, forward, MSE, zero_grad, backward, Adam, loss.item()."""
    x, y = task.train_batch(SEED, step)
    loss = F.mse_loss(model(x).squeeze(-1), y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    loss.item()


def hand_train(task: Any, steps: int, device: torch.device, cell: str = "lstm") -> HandModel:
    torch.manual_seed(SEED)
    model = HandModel(cell).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    for step in range(steps):
        hand_step(model, optimizer, task, step)
    return model


class SeqnetRuns:
    """Composes the real ``train`` config (as tests/conftest.py does) into fresh run folders."""

    def __init__(self, root: Path, device: torch.device) -> None:
        self.root, self.device, self.count = root, device, 0

    def config(self, *overrides: str) -> Any:
        from hydra import compose, initialize_config_dir

        import seqnet.config  # noqa: F401  (registers schemas and resolvers)
        from seqnet.train import CONFIG_DIR

        self.count += 1
        run_dir = self.root / f"run{self.count:03d}"
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            return compose(
                config_name="train",
                overrides=[
                    *REFERENCE,
                    f"trainer.device={self.device}",
                    *overrides,
                    f"paths.run_dir={run_dir}",
                ],
            )

    def train(self, steps: int, grad_every: int = 0) -> tuple[float, dict[str, float]]:
        """Wall time of ``train(cfg)`` for ``steps`` steps, with validation and the checkpoint
        only at the end (train() always does both at the last step); composing is not timed."""
        from seqnet.training.loop import train

        cfg = self.config(
            f"trainer.max_steps={steps}",
            f"trainer.val_every_n_steps={steps}",
            f"trainer.ckpt_every_n_steps={steps}",
            f"grad_log.every_n_steps={grad_every}",
        )
        return timed(self.device, lambda: train(cfg))


# ---------------------------------------------------------------------------- measurements
@dataclass
class Result:
    """One row of the table: contender A against contender B."""

    name: str
    a_label: str
    a_value: float
    b_label: str
    b_value: float
    unit: str  # "steps/s" or "ms"
    target: str  # ">=0.95", "<=3" or "info"
    busy: bool = False  # built on repeats during which other processes were busy
    details: dict[str, Any] = field(default_factory=dict)
    # The median of per-repeat A/B ratios, where A and B ran back to back in each repeat: it
    # cancels the slow drifts of a shared machine that a ratio of separate medians keeps.
    paired_ratio: float | None = None

    @property
    def ratio(self) -> float:
        return self.paired_ratio if self.paired_ratio is not None else self.a_value / self.b_value

    @property
    def passed(self) -> bool | None:
        if self.target == "info":
            return None
        bound = float(self.target[2:])
        return self.ratio >= bound if self.target.startswith(">=") else self.ratio <= bound


def bench_loop(runs: SeqnetRuns, s: Settings, device: torch.device) -> Result:
    """1. seqnet's train(cfg) vs the hand-written loop, steps/s.

    Each side runs twice from scratch, ``short_steps`` and ``long_steps`` long. The fixed costs
    (building; for seqnet also the run folder, TensorBoard writer, final validation and
    checkpoint) are the same in both runs, so (long - short) steps over the difference of the wall
    times is the steady-state rate; both contenders are timed this same way. Who goes first
    alternates from repeat to repeat.
    """
    from seqnet.data.adding import AddingProblem

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


def bench_denormal(s: Settings) -> Result:
    """2. The tanh RNN with and without flushing denormals, each in a fresh process, since the
    flag must be set before the process does any tensor work. Steps/s = 1 / median step time."""

    def worker(flag: str) -> list[float]:
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
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
    from seqnet.data.adding import AddingProblem

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


def bench_profile(runs: SeqnetRuns, s: Settings, device: torch.device) -> list[Result]:
    """3. One measure_profile pass (probe batch 64, loss at the last output) vs one training
    step (forward, backward, Adam) of the same seqnet model; interleaved, medians."""
    from seqnet.data.adding import AddingProblem
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


# ---------------------------------------------------------------------------- report
def print_table(results: list[Result]) -> None:
    def value(label: str, v: float, unit: str) -> str:
        return f"{label} {v:6.1f} {unit}" if unit == "ms" else f"{label} {v:6.2f} {unit}"

    head = f"{'measurement':<56} {'A':<22} {'B':<22} {'ratio A/B':>9}  {'target':<7} result"
    print(head)
    print("-" * len(head))
    for r in results:
        verdict = {True: "PASS", False: "FAIL", None: "-"}[r.passed] + (" (busy)" * r.busy)
        print(
            f"{r.name:<56} {value(r.a_label, r.a_value, r.unit):<22} "
            f"{value(r.b_label, r.b_value, r.unit):<22} {r.ratio:>8.3f}x  {r.target:<7} {verdict}"
        )


def print_details(results: list[Result]) -> None:
    print("\ndetails (per repeat, in run order; others_cpu_share: other processes' CPU use)")
    for r in results:
        for key, v in r.details.items():
            if isinstance(v, list) and v and isinstance(v[0], float):
                fmt = "{:.1%}" if key == "others_cpu_share" else "{:.4g}"
                v = " ".join(fmt.format(x) for x in v)
            print(f"  {r.name[0]} {key}: {v}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer steps and repeats (smoke test)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    p.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
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
    print(
        f"seqnet benchmark ({'quick' if args.quick else 'full'}): device {device}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs, {platform.machine()}\n"
        f"workload: LSTM hidden {HIDDEN}, 1 layer, batch {BATCH}, T={SEQ_LEN}, adding problem, "
        f"Adam lr {LR:g}\n{BASELINE_NOTE}\n"
        "contenders interleaved (A B, B A, ...); medians over repeats\n"
    )

    started, meter = time.perf_counter(), OthersMeter()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="seqnet-bench-") as tmp:
        runs = SeqnetRuns(Path(tmp), device)
        # Warm-up, untimed: imports (hydra, tensorboard, matplotlib for the heatmaps), oneDNN
        # primitives, the allocator.
        runs.train(4, grad_every=2)
        from seqnet.data.adding import AddingProblem

        hand_train(AddingProblem(seq_len=SEQ_LEN, batch_size=BATCH, device=device), 4, device)

        print("[1/4] seqnet train() vs hand-written loop ...", flush=True)
        results.append(bench_loop(runs, s, device))
        if device.type == "cpu":
            print("[2/4] flush denormals on vs off (fresh processes) ...", flush=True)
            results.append(bench_denormal(s))
        else:
            print("[2/4] skipped: denormal flushing is a CPU setting (run with --device cpu)")
        print("[3/4] gradient profile vs training step ...", flush=True)
        results.extend(bench_profile(runs, s, device))
        print("[4/4] train() with grad logging vs without ...", flush=True)
        results.append(bench_grad_log(runs, s))
    wall, others = time.perf_counter() - started, meter.share()

    print()
    print_table(results)
    print_details(results)
    check = results[0].details
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
            "device": str(device),
            "quick": args.quick,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "cpus": os.cpu_count(),
            "settings": asdict(s),
            "wall_s": wall,
            "others_cpu_share": others,
            "results": [{**asdict(r), "ratio": r.ratio, "passed": r.passed} for r in results],
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
