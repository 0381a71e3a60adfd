"""The comparison figure: gradient norm against timestep (log scale) for each run, next to
``log10_ratio`` and ``horizon`` over training. Exact zeros (underflow) are marked on the time
axis instead of being drawn as part of a line."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seqnet.cli.compare.runs import Run


def plot_comparison(
    runs: Sequence[Run],
    labels: Sequence[str],
    steps: Sequence[int],
    quantity: str,
    target: int,
):
    """Left: norm against timestep (log y); right: log10_ratio and horizon against training step.

    ``runs`` are those that logged ``quantity``; returns a matplotlib Figure (Agg canvas, no
    pyplot state, so it is safe inside tests and scripts).
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(13, 5.6), dpi=110, layout="constrained")
    grid = fig.add_gridspec(2, 2, width_ratios=(1.7, 1))
    ax_profile = fig.add_subplot(grid[:, 0])
    ax_ratio = fig.add_subplot(grid[0, 1])
    ax_horizon = fig.add_subplot(grid[1, 1], sharex=ax_ratio)

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
        summaries = [run.profile(int(s)) for s in run.steps]
        ax_ratio.plot(
            run.steps, [p.log10_ratio(quantity) for p in summaries], "o-", color=color, ms=3
        )
        ax_horizon.plot(
            run.steps,
            [p.horizon(quantity, run.horizon_threshold) for p in summaries],
            "o-",
            color=color,
            ms=3,
        )

    ax_profile.set_yscale("log")
    ax_profile.set_xlabel("timestep t")
    ax_profile.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_profile.set_ylabel(f"gradient norm ||dL/d{quantity}(t)||  (log scale)")
    zeros = "\nexact zeros (underflow) are not drawn: ▼ on the t axis" if any_zero else ""
    ax_profile.set_title(f"{quantity}: gradient norm per timestep at training step {target}{zeros}")
    ax_profile.grid(True, which="major", alpha=0.3)

    ax_ratio.axhline(0, color="0.6", lw=0.8)
    ax_ratio.set_ylabel("log10_ratio\nlog10(norm t=0 / norm t=T-1)")
    ax_ratio.set_title(f"{quantity} over training (negative: vanishing)")
    ax_ratio.tick_params(labelbottom=False)
    thresholds = {r.horizon_threshold for r in runs}
    threshold = f"{thresholds.pop():g}" if len(thresholds) == 1 else "threshold"
    ax_horizon.set_ylabel(f"horizon (steps with\nnorm >= {threshold} x norm T-1)")
    ax_horizon.set_xlabel("training step")
    ax_horizon.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_horizon.yaxis.set_major_locator(MaxNLocator(integer=True))  # a horizon counts timesteps
    low, high = ax_horizon.get_ylim()
    if high - low < 2:  # constant horizons: keep whole-number ticks around them
        middle = round((low + high) / 2)
        ax_horizon.set_ylim(middle - 1, middle + 1)
    for ax in (ax_ratio, ax_horizon):
        ax.axvline(target, color="0.4", ls=":", lw=1)
        ax.grid(True, alpha=0.3)

    fig.legend(
        loc="outside lower center",
        ncols=min(len(runs), 3),
        fontsize="small",
        frameon=False,
        handles=handles,
    )
    return fig
