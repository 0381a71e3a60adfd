"""The printed table: each run's plotted profile reduced to a few numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from seqnet.cli.compare.runs import Run
from seqnet.gradients.summaries import SUMMARIES


@dataclass
class RunSummary:
    """One table row: the plotted profile of one quantity, reduced to a few numbers."""

    label: str
    step: int
    log10_first: float  # log10 norm at t=0 (the floor of log10_floor(dtype) for an exact zero)
    log10_last: float  # ... at t=T-1
    summaries: dict[str, float | int]  # every gradient summary, by name
    first_is_zero: bool
    last_is_zero: bool
    val_loss: float | None


def summarize(run: Run, label: str, step: int, quantity: str) -> RunSummary:
    """The table row of ``run`` at ``step`` (``quantity`` must be one the run logged)."""
    profile = run.profile(step)
    logs = profile.log10(quantity)
    norms = profile.norms[quantity]
    val_loss = run.metrics.get("val/loss")
    return RunSummary(
        label=label,
        step=step,
        log10_first=float(logs[0]),
        log10_last=float(logs[-1]),
        summaries=profile.summary(quantity, run.horizon_threshold),
        first_is_zero=bool(norms[0] == 0),
        last_is_zero=bool(norms[-1] == 0),
        val_loss=float(val_loss) if isinstance(val_loss, int | float) else None,
    )


def format_table(rows: Sequence[RunSummary | tuple[str, int]], quantity: str) -> str:
    """Plain-text table, one line per run; a ``(label, step)`` row is a run without
    ``quantity``. An exact-zero norm prints as ``zero`` (``log10_ratio`` uses the floor)."""
    head = ["run", "step", "log10 t=0", "log10 t=T-1", *SUMMARIES, "val/loss"]
    lines = [head]
    for row in rows:
        if isinstance(row, RunSummary):
            lines.append(
                [
                    row.label,
                    str(row.step),
                    "zero" if row.first_is_zero else f"{row.log10_first:.3f}",
                    "zero" if row.last_is_zero else f"{row.log10_last:.3f}",
                    *(format_summary(row.summaries[name]) for name in SUMMARIES),
                    "-" if row.val_loss is None else f"{row.val_loss:.4g}",
                ]
            )
        else:
            label, step = row
            lines.append([label, str(step), *["-"] * (len(head) - 2)])
    title = f"gradient norm of {quantity}, log10 ||dL/d{quantity}(t)||:"
    return "\n".join([title, *aligned(lines)])


def aligned(lines: Sequence[Sequence[str]], left: int = 1) -> list[str]:
    """Columns padded to a common width: the first ``left`` flush left, the rest flush right."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return [
        "  ".join(
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in lines
    ]


def format_summary(value: float | int) -> str:
    """A gradient summary in a table: whole numbers as they are, others to three decimals."""
    return str(value) if isinstance(value, int) else f"{value:.3f}"
