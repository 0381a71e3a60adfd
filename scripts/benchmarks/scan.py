"""12: which form of the minGRU/minLSTM scan is faster on this device, for information: the
time loop in linear space (``linear_recurrence``) against the paper's log-space parallel scan
(``log_linear_scan``), over whole training steps at T=200 and the longest benchmarked T. The
faster form is what ``seqnet.models.scan.default_space`` should pick here."""

from __future__ import annotations

from collections.abc import Callable

import torch

from benchmarks.engine import StepFn, interleaved, paired, training_step
from benchmarks.harness import Result
from benchmarks.workload import SEQ_LEN, SeqnetRuns, Settings

SPACES = ("linear", "log")


def patched(owner: object, name: str, replacement: Callable, step: StepFn) -> StepFn:
    """``step`` run with ``owner.name`` replaced by ``replacement``."""
    original = getattr(owner, name)

    def run() -> None:
        setattr(owner, name, replacement)
        try:
            step()
        finally:
            setattr(owner, name, original)

    return run


def bench_scan_space(runs: SeqnetRuns, s: Settings, device: torch.device) -> list[Result]:
    """12. minGRU and minLSTM training steps with the scan in each space."""
    from seqnet.models import scan

    lengths = sorted({SEQ_LEN, max(s.engine_lengths)})
    contenders: dict[str, StepFn] = {}
    for name in ("mingru", "minlstm"):
        for T in lengths:
            for space in SPACES:
                step = training_step(runs, device, T, f"model={name}", warm=False)
                # The scan asks default_space(device) for its form: answer with this space.
                contenders[f"{name} {space} T={T}"] = patched(
                    scan, "default_space", lambda _device, sp=space: sp, step
                )
                contenders[f"{name} {space} T={T}"]()  # warm-up
    ms, busy, details = interleaved("12", contenders, s, device)
    chosen = scan.default_space(device)
    rows = []
    for k, (name, T) in enumerate((n, T) for n in ("mingru", "minlstm") for T in lengths):
        log, linear = f"{name} log T={T}", f"{name} linear T={T}"
        ratio = paired(details, log, linear)
        rows.append(
            Result(
                f"{'12' if k == 0 else '  '} {name} scan: log space vs linear, T={T}",
                "log",
                ms[log],
                "linear",
                ms[linear],
                "ms",
                "info",
                busy,
                {
                    f"{name}_T{T}_faster_here": "log" if ratio < 1 else "linear",
                    f"default_space_on_{device.type}": chosen,
                },
                paired_ratio=ratio,
            )
        )
    return rows
