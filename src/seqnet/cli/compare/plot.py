"""The comparison figure, one colour per group of runs (a run alone is a group of one).

Left: the gradient norm against the timestep at one training step, on a log scale: the median
over the group's runs, the interquartile range as a band and the range (min to max) as a lighter
band; the statistics are taken over log10 of the norms, since norms span hundreds of decades.
Exact zeros (underflow) are left out of the statistics and marked by triangles on the time axis.
Right: every gradient summary (``seqnet.gradients.summaries``) and the validation loss against
the training step, the median with the interquartile range. Legends give each group's n.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seqnet.analysis.groups import Group
from seqnet.gradients.summaries import SUMMARIES

#: Percentiles drawn: the range (0, 100), the interquartile range (25, 75) and the median.
LOW, Q1, MEDIAN, Q3, HIGH = 0, 25, 50, 75, 100


def spread(values: np.ndarray) -> np.ndarray:
    """(5, ...) percentiles over axis 0 (runs), NaN where every run is NaN."""
    out = np.full((5, *values.shape[1:]), np.nan)
    keep = ~np.all(np.isnan(values), axis=0)
    if keep.any():
        out[:, keep] = np.nanpercentile(values[:, keep], [LOW, Q1, MEDIAN, Q3, HIGH], axis=0)
    return out


def profile_logs(group: Group, step: int, quantity: str) -> np.ndarray:
    """(runs, T) log10 norms of ``quantity`` at ``step``, exact zeros as NaN."""
    norms = np.stack([run.profile(step).norms[quantity] for run in group.runs])
    with np.errstate(divide="ignore"):
        return np.where(norms > 0, np.log10(np.where(norms > 0, norms, 1.0)), np.nan)


def summaries_over_training(group: Group, quantity: str) -> dict[str, np.ndarray]:
    """Every summary of ``quantity`` at every logged step: {name: (runs, steps)}."""
    first = group.runs[0]
    series: dict[str, list[list[float]]] = {name: [] for name in SUMMARIES}
    for run in group.runs:
        per_step = [
            run.profile(int(s)).summary(quantity, run.horizon_threshold) for s in first.steps
        ]
        for name in SUMMARIES:
            series[name].append([float(p[name]) for p in per_step])
    return {name: np.array(rows) for name, rows in series.items()}


_TAB20 = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
    "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5",
]  # fmt: skip


def short_label(group: Group) -> str:
    """A legend entry: the model's name bare, other keys without their group's prefix
    (``gru, recurrent_init=orthogonal``); the tables keep the full label."""
    parts = []
    for key, value in group.keys.items():
        if key not in group.named:
            continue
        if key == "model.name":
            parts.append(str(value))
        else:
            name = key.split(".", 1)[1] if key.count(".") else key
            parts.append(
                f"{name}={str(value).rsplit('.', 1)[-1] if key.endswith('_target_') else value}"
            )
    return ", ".join(parts) or group.label


#: A legend entry longer than this is numbered and cut; the printed key gives it whole.
LEGEND_WIDTH = 40
#: A value longer than this is cut in a legend entry (a list, a long path).
VALUE_WIDTH = 16


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def legend_entries(groups: Sequence[Group], steps: Sequence[int]) -> tuple[list[str], list[str]]:
    """Each group's legend entry and the key printed beside the figure (empty when every entry
    is short). An entry is the short label (``short_label``, long values cut), its n, and its
    training step where the groups are shown at different steps; an entry still longer than
    ``LEGEND_WIDTH`` is numbered and cut, and the key gives the number's full label."""
    common = len(set(steps)) == 1
    entries, key = [], []
    shorts = [
        ", ".join(
            _cut(part, VALUE_WIDTH + part.find("=") + 1) for part in short_label(g).split(", ")
        )
        for g in groups
    ]
    numbered = any(len(s) > LEGEND_WIDTH for s in shorts)
    for i, (group, step, short) in enumerate(zip(groups, steps, shorts, strict=True)):
        tail = f" (n={group.n}" + ("" if common else f", step {step}") + ")"
        if numbered:
            entries.append(f"[{i + 1}] {_cut(short, LEGEND_WIDTH)}{tail}")
            key.append(f"[{i + 1}] {group.label}")
        else:
            entries.append(short + tail)
    return entries, key


def band(ax, x, stats: np.ndarray, color: str, log: bool = False) -> object:
    """The median line with the interquartile and min-max bands; returns the line."""
    values = 10.0**stats if log else stats
    marker = "o" if len(x) <= 2 else None  # a profile of one timestep is a point, not a line
    (line,) = ax.plot(x, values[2], color=color, lw=1.6, marker=marker, ms=4)
    ax.fill_between(x, values[1], values[3], color=color, alpha=0.28, lw=0)
    ax.fill_between(x, values[0], values[4], color=color, alpha=0.12, lw=0)
    return line


def plot_groups(
    groups: Sequence[Group],
    steps: Sequence[int],
    quantity: str,
    target: int,
    val_curves: Sequence[tuple[np.ndarray, np.ndarray] | None],
    labels: Sequence[str] | None = None,
):
    """The figure (a matplotlib Figure on an Agg canvas, no pyplot state) for the ``groups``
    that logged ``quantity``, each at its plotted step (the title says it when they share one,
    else each legend entry says its own); ``val_curves``: per group, the training steps and
    (runs, steps) validation losses, or None; ``labels``: the legend entries (default
    ``legend_entries``)."""
    if labels is None:
        labels = legend_entries(groups, steps)[0]
    common = len(set(steps)) == 1
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    names = list(SUMMARIES)
    has_val = any(c is not None for c in val_curves)
    rows = len(names) + int(has_val)
    fig = Figure(figsize=(13, 2.2 + 1.6 * rows), dpi=110, layout="constrained")
    grid = fig.add_gridspec(rows, 2, width_ratios=(1.7, 1))
    ax_profile = fig.add_subplot(grid[:, 0])
    axes = [fig.add_subplot(grid[0, 1])]
    axes += [fig.add_subplot(grid[i, 1], sharex=axes[0]) for i in range(1, rows)]

    # Up to 10 groups the default cycle; more, 20 distinct colours (tab20).
    colors = [f"C{i}" for i in range(10)] if len(groups) <= 10 else list(_TAB20)
    any_zero, handles = False, []
    groups_steps = zip(groups, steps, val_curves, labels, strict=True)
    for i, (group, step, curve, legend) in enumerate(groups_steps):
        color = colors[i % len(colors)]
        logs = profile_logs(group, step, quantity)
        t = np.arange(logs.shape[1])
        line = band(ax_profile, t, spread(logs), color, log=True)
        zero = np.isnan(logs).any(axis=0)
        if zero.any():
            any_zero = True
            legend += f" [{int(zero.sum())} timesteps with zeros]"
            ax_profile.plot(
                t[zero],
                np.zeros(int(zero.sum())),
                "v",
                color=color,
                ms=5,
                transform=ax_profile.get_xaxis_transform(),
                clip_on=False,
            )
        line.set_label(legend)
        handles.append(line)
        first = group.runs[0]
        over_training = summaries_over_training(group, quantity)
        for ax, name in zip(axes, names, strict=False):  # the last axis may be val/loss's
            band(ax, first.steps, spread(over_training[name]), color)
        if curve is not None:
            band(axes[-1], curve[0], spread(curve[1]), color)

    ax_profile.set_yscale("log")
    ax_profile.set_xlabel("timestep t")
    ax_profile.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_profile.set_ylabel(f"gradient norm ||dL/d{quantity}(t)||  (log scale)")
    zeros = "\nexact zeros (underflow) are left out: ▼ on the t axis" if any_zero else ""
    at = f"at training step {steps[0]}" if common else "at each curve's training step (legend)"
    ax_profile.set_title(
        f"{quantity}: gradient norm per timestep {at}\n"
        f"median, interquartile range and range over each group's runs{zeros}"
    )
    ax_profile.grid(True, which="major", alpha=0.3)

    thresholds = {r.horizon_threshold for g in groups for r in g.runs}
    threshold = f"{thresholds.pop():g}" if len(thresholds) == 1 else "threshold"
    for i, ax in enumerate(axes):
        if i < len(names):
            summary = SUMMARIES[names[i]]
            label = summary.label.replace("threshold", threshold)
            ax.set_ylabel(summary.name, fontsize="small")
            ax.text(0.01, 0.96, label, transform=ax.transAxes, fontsize="x-small", va="top")
            if summary.integer:  # a count of timesteps: whole-number ticks
                ax.yaxis.set_major_locator(MaxNLocator(integer=True))
                low, high = ax.get_ylim()
                if high - low < 2:  # constant counts: keep whole-number ticks around them
                    middle = round((low + high) / 2)
                    ax.set_ylim(middle - 1, middle + 1)
            else:
                ax.axhline(0, color="0.6", lw=0.8)
        else:
            ax.set_ylabel("val/loss", fontsize="small")
        if i < rows - 1:
            ax.tick_params(labelbottom=False)
        if common:  # the plotted step (groups at different steps: their legend says each)
            ax.axvline(target, color="0.4", ls=":", lw=1)
        ax.grid(True, alpha=0.3)
    axes[0].set_title(f"{quantity} over training: median and interquartile range")
    axes[-1].set_xlabel("training step")
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))

    fig.legend(
        loc="outside lower center",
        ncols=min(len(groups), 3 if max(len(h.get_label()) for h in handles) < 45 else 2),
        fontsize="small",
        frameon=False,
        handles=handles,
    )
    return fig
