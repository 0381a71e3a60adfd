"""The comparison figure: gradient norm against timestep (log scale) for each run, next to every
gradient summary (``seqnet.gradients.summaries``) over training. Exact zeros (underflow) are
marked on the time axis instead of being drawn as part of a line."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seqnet.cli.compare.runs import Run
from seqnet.gradients.summaries import SUMMARIES


def plot_comparison(
    runs: Sequence[Run],
    labels: Sequence[str],
    steps: Sequence[int],
    quantity: str,
    target: int,
):
    """Left: norm against timestep (log y); right: each gradient summary against training step.

    ``runs`` are those that logged ``quantity``; returns a matplotlib Figure (Agg canvas, no
    pyplot state, so it is safe inside tests and scripts).
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    names = list(SUMMARIES)
    fig = Figure(figsize=(13, 2.2 + 1.7 * len(names)), dpi=110, layout="constrained")
    grid = fig.add_gridspec(len(names), 2, width_ratios=(1.7, 1))
    ax_profile = fig.add_subplot(grid[:, 0])
    axes = [fig.add_subplot(grid[0, 1])]
    axes += [fig.add_subplot(grid[i, 1], sharex=axes[0]) for i in range(1, len(names))]

    any_zero, handles = False, []
    for i, (run, label, step) in enumerate(zip(runs, labels, steps, strict=True)):
        color = f"C{i % 10}"
        norms = run.profile(step).norms[quantity]
        t = np.arange(len(norms))
        zero = norms == 0
        legend = label if step == target else f"{label} (step {step})"
        if zero.any():
            any_zero = True
            legend += f" [{int(zero.sum())} zero]"
        # Zeros are masked: on a log axis the float32 floor (1e-46) would squash every curve.
        (line,) = ax_profile.plot(t, np.where(zero, np.nan, norms), color=color, lw=1.6)
        line.set_label(legend)
        handles.append(line)
        if zero.any():
            ax_profile.plot(
                t[zero],
                np.zeros(int(zero.sum())),
                "v",
                color=color,
                ms=5,
                transform=ax_profile.get_xaxis_transform(),
                clip_on=False,
            )
        over_training = [
            run.profile(int(s)).summary(quantity, run.horizon_threshold) for s in run.steps
        ]
        for ax, name in zip(axes, names, strict=True):
            values = [summary[name] for summary in over_training]
            ax.plot(run.steps, values, "o-", color=color, ms=3)

    ax_profile.set_yscale("log")
    ax_profile.set_xlabel("timestep t")
    ax_profile.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_profile.set_ylabel(f"gradient norm ||dL/d{quantity}(t)||  (log scale)")
    zeros = "\nexact zeros (underflow) are not drawn: ▼ on the t axis" if any_zero else ""
    ax_profile.set_title(f"{quantity}: gradient norm per timestep at training step {target}{zeros}")
    ax_profile.grid(True, which="major", alpha=0.3)

    thresholds = {r.horizon_threshold for r in runs}
    threshold = f"{thresholds.pop():g}" if len(thresholds) == 1 else "threshold"
    for i, (ax, name) in enumerate(zip(axes, names, strict=True)):
        summary = SUMMARIES[name]
        label = summary.label.replace("threshold", threshold)
        ax.set_ylabel(f"{name}\n{label}", fontsize="small")
        if summary.integer:  # a count of timesteps: whole-number ticks
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            low, high = ax.get_ylim()
            if high - low < 2:  # constant counts: keep whole-number ticks around them
                middle = round((low + high) / 2)
                ax.set_ylim(middle - 1, middle + 1)
        else:
            ax.axhline(0, color="0.6", lw=0.8)
        if i < len(names) - 1:
            ax.tick_params(labelbottom=False)
        ax.axvline(target, color="0.4", ls=":", lw=1)
        ax.grid(True, alpha=0.3)
    axes[0].set_title(f"{quantity} over training (log10_ratio < 0: vanishing)")
    axes[-1].set_xlabel("training step")
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))

    fig.legend(
        loc="outside lower center",
        ncols=min(len(runs), 3),
        fontsize="small",
        frameon=False,
        handles=handles,
    )
    return fig
