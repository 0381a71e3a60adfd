"""The printed profile table: each group's plotted profile reduced to a few numbers (the median
over its runs; a run alone is a group of one)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from seqnet.analysis.groups import Group
from seqnet.gradients.summaries import SUMMARIES


@dataclass
class ProfileRow:
    """One table row: the plotted profile of one quantity, reduced to a few numbers."""

    label: str
    n: int
    step: int
    log10_first: float  # median log10 norm at t=0 (an exact zero at log10_floor(dtype))
    log10_last: float  # ... at t=T-1
    summaries: dict[str, float]  # the median of every gradient summary, by name
    first_is_zero: bool  # zero in every run
    last_is_zero: bool
    val_loss: float | None  # the median final val/loss


def summarize(group: Group, step: int, quantity: str) -> ProfileRow:
    """The row of ``group`` at ``step`` (every run of it logged ``quantity``)."""
    profiles = [run.profile(step) for run in group.runs]
    logs = [p.log10(quantity) for p in profiles]
    norms = [p.norms[quantity] for p in profiles]
    summaries = [
        p.summary(quantity, r.horizon_threshold) for p, r in zip(profiles, group.runs, strict=True)
    ]
    losses = [r.metrics.get("val/loss") for r in group.runs]
    losses = [float(v) for v in losses if isinstance(v, int | float)]
    return ProfileRow(
        label=group.label,
        n=group.n,
        step=step,
        log10_first=statistics.median(float(v[0]) for v in logs),
        log10_last=statistics.median(float(v[-1]) for v in logs),
        summaries={s: statistics.median(float(x[s]) for x in summaries) for s in SUMMARIES},
        first_is_zero=all(v[0] == 0 for v in norms),
        last_is_zero=all(v[-1] == 0 for v in norms),
        val_loss=statistics.median(losses) if losses else None,
    )


def format_table(
    rows: Sequence[ProfileRow | tuple[str, int | None]], quantity: str, grouped: bool = True
) -> str:
    """Plain-text table, one line per group (``grouped``: with n; else one line per run); a
    ``(label, step)`` row has no ``quantity``. An exact-zero norm prints as ``zero``
    (``log10_ratio`` uses the floor)."""
    head = ["group" if grouped else "run", *(["n"] if grouped else []), "step"]
    head += ["log10 t=0", "log10 t=T-1", *SUMMARIES, "val/loss"]
    lines = [head]
    for row in rows:
        if isinstance(row, ProfileRow):
            values = [
                "zero" if row.first_is_zero else f"{row.log10_first:.3f}",
                "zero" if row.last_is_zero else f"{row.log10_last:.3f}",
                *(format_summary(name, row.summaries[name]) for name in SUMMARIES),
                "-" if row.val_loss is None else f"{row.val_loss:.4g}",
            ]
            lines.append([row.label, *([str(row.n)] if grouped else []), str(row.step), *values])
        else:
            label, step = row
            prefix = [label, *(["-"] if grouped else []), "-" if step is None else str(step)]
            lines.append([*prefix, *["-"] * (len(head) - len(prefix))])
    medians = " (median over each group's runs)" if grouped else ""
    title = f"gradient norm of {quantity}, log10 ||dL/d{quantity}(t)||{medians}:"
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


def format_summary(name: str, value: float) -> str:
    """A gradient summary in a table: whole-number summaries (and medians that are whole) as
    integers, others to three decimals."""
    if SUMMARIES[name].integer and float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}"
