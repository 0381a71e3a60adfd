"""7-10: the step-by-step engine and the variants against PyTorch's fused layers.

Every contender is a seqnet model built from the real configs (``model=<name>`` plus options)
and timed over whole training steps (batch, forward, loss, backward, Adam) on the reference
workload; contenders are interleaved within each repeat, and every ratio is the median of the
per-repeat ratios (both sides measured back to back).

7. The engine running the standard LSTM cell (``model=lstm model.backend=stepped``) against the
   fused ``nn.LSTM`` (``model.backend=fused``): target <= 1.3x its step time. Each variant
   (and the plain models with zoneout, which run on the engine): target <= 1.5x.
8. The engine LSTM's step time at several T: target within 10% of a straight line through them.
9. minGRU / minLSTM trained with the parallel scan against the fused ``nn.GRU``: target >= 3x
   faster at T=200; the ratio at the other lengths for information.
10. The plain models (rnn, lstm, gru) stepped against fused on this device: for information, and
   what ``model.backend=auto`` should pick here (``FusedCore.engine_faster_on``).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable

import torch

from benchmarks.harness import Result, run_repeats, summarise, timed
from benchmarks.workload import BATCH, LR, QUICK, SEED, SEQ_LEN, SeqnetRuns, Settings

#: The models on PyTorch's fused layers; every other registered model is a variant.
PLAIN = ("rnn", "lstm", "gru")
#: "fused lstm" is the reference of measurement 7.
REFERENCE = "fused lstm"


def contenders_of_7() -> dict[str, list[str]]:
    """Contender -> model overrides: the reference, the engine LSTM, every variant, and the
    plain LSTM and GRU with zoneout (which run on the engine)."""
    from seqnet.models import MODEL_REGISTRY

    return {
        REFERENCE: ["model=lstm", "model.backend=fused"],
        "engine lstm": ["model=lstm", "model.backend=stepped"],
        **{name: [f"model={name}"] for name in sorted(set(MODEL_REGISTRY) - set(PLAIN))},
        "lstm zoneout=0.1": ["model=lstm", "model.zoneout=0.1"],
        "gru zoneout=0.1": ["model=gru", "model.zoneout=0.1"],
    }


StepFn = Callable[[], None]


def training_step(
    runs: SeqnetRuns, device: torch.device, seq_len: int, *overrides: str, warm: bool = True
) -> StepFn:
    """One training step of the seqnet model that ``overrides`` compose, on the adding problem
    at ``seq_len`` (a new batch each call, as in training); run once untimed unless ``warm`` is
    false."""
    from seqnet.data.tasks.adding import AddingProblem
    from seqnet.models import build_model

    cfg = runs.config(*overrides, f"data.seq_len={seq_len}")
    task = AddingProblem(seq_len=seq_len, batch_size=BATCH, device=device)
    torch.manual_seed(SEED)
    model = build_model(cfg.model, task.spec).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    counter = iter(range(10**9))

    def step() -> None:
        x, y = task.train_batch(SEED, next(counter))
        loss = task.loss(model(x)[0], y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        loss.item()

    if warm:
        step()  # warm-up: allocator, oneDNN primitives
    return step


def interleaved(
    label: str, contenders: dict[str, StepFn], s: Settings, device: torch.device
) -> tuple[dict[str, float], bool, dict]:
    """Median ms per training step of each contender; contenders run in turn within a repeat,
    the order reversed every other repeat. Adds ``"<a>/<b>"`` paired ratios on request."""

    def one(r: int) -> dict[str, float]:
        names = list(contenders) if r % 2 == 0 else list(contenders)[::-1]
        ms = {}
        for name in names:
            elapsed, _ = timed(
                device, lambda n=name: [contenders[n]() for _ in range(s.engine_steps)]
            )
            ms[name] = 1e3 * elapsed / s.engine_steps
        return ms

    return summarise(run_repeats(label, one, s.engine_repeats), s.engine_repeats)


def paired(details: dict, a: str, b: str) -> float:
    """Median over repeats of a's time / b's time (both measured in the same repeat)."""
    return statistics.median(x / y for x, y in zip(details[a], details[b], strict=True))


def bench_engine(runs: SeqnetRuns, s: Settings, device: torch.device) -> list[Result]:
    """7. Engine LSTM and every variant against the fused nn.LSTM, training-step time."""
    models = contenders_of_7()
    contenders = {name: training_step(runs, device, SEQ_LEN, *o) for name, o in models.items()}
    ms, busy, details = interleaved("7", contenders, s, device)
    rows = []
    for name in contenders:
        if name == REFERENCE:
            continue
        engine = name == "engine lstm"
        rows.append(
            Result(
                f"7 {name} vs fused nn.LSTM (train step)"
                if engine
                else f"  {name} vs fused nn.LSTM",
                name.split()[0],
                ms[name],
                "fused",
                ms[REFERENCE],
                "ms",
                "<=1.3" if engine else "<=1.5",
                busy,
                {k: details[k] for k in (name, REFERENCE)} if engine else {},
                paired_ratio=paired(details, name, REFERENCE),
            )
        )
    rows[0].details.update(repeats_used=details["repeats_used"])
    return rows


def bench_growth(runs: SeqnetRuns, s: Settings, device: torch.device) -> list[Result]:
    """8 and 9. The engine LSTM at several T (linear growth) and the scan models against the
    fused nn.GRU at the same T."""
    lengths = s.engine_lengths
    kinds = {
        "engine lstm": ["model=lstm", "model.backend=stepped"],
        "fused gru": ["model=gru", "model.backend=fused"],
        "mingru": ["model=mingru"],
        "minlstm": ["model=minlstm"],
    }
    contenders = {
        f"{kind} T={T}": training_step(runs, device, T, *overrides)
        for T in lengths
        for kind, overrides in kinds.items()
    }
    ms, busy, details = interleaved("8", contenders, s, device)

    engine = [ms[f"engine lstm T={T}"] for T in lengths]
    slope, intercept = line_fit(list(lengths), engine)
    fit = [intercept + slope * T for T in lengths]
    worst = max(range(len(lengths)), key=lambda k: max(engine[k] / fit[k], fit[k] / engine[k]))
    rows = [
        Result(
            f"8 engine lstm step time vs a line through T={','.join(map(str, lengths))}",
            f"T={lengths[worst]}",
            engine[worst],
            "line",
            fit[worst],
            "ms",
            "info" if s is QUICK else "<=1.1",
            busy,
            {
                "engine_lstm_ms_by_T": dict(zip(lengths, map(round, engine), strict=True)),
                "fit_ms": f"{intercept:.1f} + {slope:.3f} * T",
                "repeats_used": details["repeats_used"],
            },
            paired_ratio=max(engine[worst] / fit[worst], fit[worst] / engine[worst]),
        )
    ]
    for kind in ("mingru", "minlstm"):
        by_t = {T: paired(details, f"fused gru T={T}", f"{kind} T={T}") for T in lengths}
        for T in lengths:
            at_reference = T == SEQ_LEN
            rows.append(
                Result(
                    f"9 fused nn.GRU vs {kind} (scan), T={T}"
                    if at_reference and kind == "mingru"
                    else f"  fused nn.GRU vs {kind} (scan), T={T}",
                    "gru",
                    ms[f"fused gru T={T}"],
                    kind,
                    ms[f"{kind} T={T}"],
                    "ms",
                    ">=3" if at_reference else "info",
                    busy,
                    {"speedup_by_T": {t: round(v, 2) for t, v in by_t.items()}}
                    if at_reference
                    else {},
                    paired_ratio=by_t[T],
                )
            )
    return rows


def bench_backends(runs: SeqnetRuns, s: Settings, device: torch.device) -> list[Result]:
    """10. rnn, lstm, gru: the engine against the fused kernel on this device (information; the
    faster one is what ``model.backend=auto`` should run here)."""
    from seqnet.models import MODEL_REGISTRY

    contenders = {
        f"{name} {backend}": training_step(
            runs, device, SEQ_LEN, f"model={name}", f"model.backend={backend}"
        )
        for name in PLAIN
        for backend in ("stepped", "fused")
    }
    ms, busy, details = interleaved("10", contenders, s, device)
    rows = []
    for name in PLAIN:
        ratio = paired(details, f"{name} stepped", f"{name} fused")
        auto = MODEL_REGISTRY[name].cls(2, 2).runs_stepped(device)
        faster = "stepped" if ratio < 1 else "fused"
        rows.append(
            Result(
                f"10 {name}: engine vs fused on {device.type}"
                if name == PLAIN[0]
                else f"  {name}: engine vs fused on {device.type}",
                "stepped",
                ms[f"{name} stepped"],
                "fused",
                ms[f"{name} fused"],
                "ms",
                "info",
                busy,
                {
                    f"{name}_faster_here": faster,
                    f"{name}_auto_runs": "stepped" if auto else "fused",
                },
                paired_ratio=ratio,
            )
        )
    return rows


def line_fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares slope and intercept."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    covariance = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    slope = covariance / sum((x - mx) ** 2 for x in xs)
    return slope, my - slope * mx
