"""11: ``torch.compile`` on the engine and on the scan, for information (seqnet does not offer it:
see README, Performance). The compiled contenders replace a cell method by its compiled version
while they run: ``LSTMCell.step`` (the engine's per-step function; compiling the whole unrolled
loop instead took 131 s for T=50 here and was no faster) and ``MinGRUCell.scan`` (the parallel
scan's elementwise math; the prefix log-sum-exp stays eager). Reports the training-step time
against eager and the one-off compile time (the first step)."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from benchmarks.engine import StepFn, interleaved, paired, training_step
from benchmarks.harness import Result
from benchmarks.workload import SEQ_LEN, SeqnetRuns, Settings


def patched(cls: type, name: str, replacement: Callable, step: StepFn) -> StepFn:
    """``step`` run with ``cls.name`` replaced by ``replacement``."""
    original = getattr(cls, name)

    def run() -> None:
        setattr(cls, name, replacement)
        try:
            step()
        finally:
            setattr(cls, name, original)

    return run


def bench_compile(runs: SeqnetRuns, s: Settings, device: torch.device) -> list[Result]:
    """11. Eager against compiled: the engine LSTM's step and minGRU's scan."""
    from seqnet.models.cells.lstm import LSTMCell
    from seqnet.models.cells.mingru import MinGRUCell

    cases = {
        "engine lstm": (["model=lstm", "model.backend=stepped"], LSTMCell, "step"),
        "mingru scan": (["model=mingru"], MinGRUCell, "scan"),
    }
    contenders: dict[str, StepFn] = {}
    compile_s: dict[str, float] = {}
    for name, (overrides, cls, method) in cases.items():
        contenders[f"{name} eager"] = training_step(runs, device, SEQ_LEN, *overrides)
        compiled = torch.compile(getattr(cls, method))
        step = patched(
            cls, method, compiled, training_step(runs, device, SEQ_LEN, *overrides, warm=False)
        )
        start = time.perf_counter()
        step()  # the first call compiles
        compile_s[name] = time.perf_counter() - start
        contenders[f"{name} compiled"] = step
    ms, busy, details = interleaved("11", contenders, s, device)
    rows = []
    for k, name in enumerate(cases):
        rows.append(
            Result(
                f"{'11' if k == 0 else '  '} torch.compile: {name}, compiled vs eager",
                "compiled",
                ms[f"{name} compiled"],
                "eager",
                ms[f"{name} eager"],
                "ms",
                "info",
                busy,
                {f"{name.replace(' ', '_')}_first_step_s": round(compile_s[name], 1)},
                paired_ratio=paired(details, f"{name} compiled", f"{name} eager"),
            )
        )
    return rows
