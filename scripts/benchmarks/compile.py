"""11: ``model.compile=true`` (``torch.compile``) against eager, for information: the engine's
LSTM step (``model=lstm model.backend=stepped``), a variant on the engine (``lstm_layernorm``)
and minGRU's scan. Reports the training-step time against eager and the one-off compile time
(the first step). The engine compiles each cell's step; compiling the whole unrolled loop
instead took 131 s for T=50 here and was no faster."""

from __future__ import annotations

import time

import torch

from benchmarks.engine import StepFn, interleaved, paired, training_step
from benchmarks.harness import Result
from benchmarks.workload import SEQ_LEN, SeqnetRuns, Settings

CASES = {
    "engine lstm": ["model=lstm", "model.backend=stepped"],
    "lstm_layernorm": ["model=lstm_layernorm"],
    "mingru scan": ["model=mingru"],
}


def bench_compile(runs: SeqnetRuns, s: Settings, device: torch.device) -> list[Result]:
    """11. Eager against model.compile=true."""
    contenders: dict[str, StepFn] = {}
    compile_s: dict[str, float] = {}
    for name, overrides in CASES.items():
        contenders[f"{name} eager"] = training_step(runs, device, SEQ_LEN, *overrides)
        step = training_step(runs, device, SEQ_LEN, *overrides, "model.compile=true", warm=False)
        start = time.perf_counter()
        step()  # the first call compiles
        compile_s[name] = time.perf_counter() - start
        contenders[f"{name} compiled"] = step
    ms, busy, details = interleaved("11", contenders, s, device)
    rows = []
    for k, name in enumerate(CASES):
        rows.append(
            Result(
                f"{'11' if k == 0 else '  '} model.compile: {name}, compiled vs eager",
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
