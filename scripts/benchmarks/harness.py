"""The benchmark harness: timing, repeats interleaved and judged quiet or busy, results and the
report table. Every target is a ratio of two contenders measured side by side in one run.

Other processes on a 2-core machine do not just take their share: a PyTorch op whose intra-op
threads wait for a descheduled sibling can run 10-30x slower. So each repeat records how much CPU
other processes used meanwhile (Linux: /proc/stat minus this process and its children); repeats
where they used more than 5% of the machine are "busy", the medians use only quiet repeats when
at least half are quiet (up to as many extra repeats are run to get there), and a result built on
busy repeats is marked "(busy)".
"""

from __future__ import annotations

import math
import os
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

#: A repeat is busy when other processes used more than this share of all CPUs meanwhile.
BUSY_SHARE = 0.05


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
            number = "" if r.name.startswith(" ") else r.name.split()[0]  # "7", "12"; "" below
            print(f"  {number:>2} {key}: {v}")
