"""Which training step each compared run shows: the largest step logged in every run, or the
requested one (a run that did not log it shows its nearest logged step, with a note)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seqnet.analysis.runs import AnalysisError, Run


def _describe_steps(steps: np.ndarray) -> str:
    values = [str(int(s)) for s in steps]
    if len(values) > 8:
        values = [*values[:3], "...", *values[-2:]]
    return ", ".join(values)


def choose_steps(
    runs: Sequence[Run], labels: Sequence[str], requested: int | None
) -> tuple[list[int | None], list[str]]:
    """The training step plotted for each run (None for a run without gradient profiles), and
    notes about runs that show another one.

    Default: the largest step logged in every run. A requested step that a run did not log is
    replaced, for that run, by its nearest logged step (the earlier one on a tie).
    """
    profiled = [i for i, run in enumerate(runs) if run.has_profiles]
    if len(profiled) < len(runs):
        chosen: list[int | None] = [None] * len(runs)
        if not profiled:
            return chosen, []
        steps, notes = choose_steps(
            [runs[i] for i in profiled], [labels[i] for i in profiled], requested
        )
        for i, step in zip(profiled, steps, strict=True):
            chosen[i] = step
        return chosen, notes
    notes: list[str] = []
    if requested is None:
        common = set.intersection(*(set(r.steps.tolist()) for r in runs))
        if common:
            target = max(common)
            return [target] * len(runs), notes
        notes.append(
            "no training step is logged in every run; each run shows its last logged step "
            "(choose one with --step S)"
        )
        return [int(r.steps[-1]) for r in runs], notes
    if requested < 0:
        raise AnalysisError(f"--step {requested} must be >= 0 (a training step)")
    last = max(int(r.steps.max()) for r in runs)
    if requested > last:
        raise AnalysisError(
            f"--step {requested} is beyond every run: the latest logged step is {last}. "
            "Logged steps: "
            + "; ".join(
                f"{lab}: {_describe_steps(r.steps)}" for r, lab in zip(runs, labels, strict=True)
            )
        )
    chosen = []
    for run, label in zip(runs, labels, strict=True):
        nearest = int(run.steps[np.argmin(np.abs(run.steps - requested))])  # first on a tie
        if nearest != requested:
            notes.append(
                f"{label}: step {requested} was not logged; showing its nearest logged step "
                f"{nearest} (logged: {_describe_steps(run.steps)})"
            )
        chosen.append(nearest)
    return chosen, notes
