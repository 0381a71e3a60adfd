"""Aggregate TensorBoard runs: one per group of runs (the seeds of a configuration), written to
``<sweep>/aggregate/<group>/``, so that TensorBoard shows each group's median with its spread.

TensorBoard cannot group runs into a mean with a band itself; its custom-scalars plugin does draw
*margin charts* (a value between a lower and an upper bound) from three scalar series. Each
aggregate run holds, as ``<tag>/median``, ``<tag>/q25`` and ``<tag>/q75`` (the median and the
interquartile range over the group's runs):

- ``val/<metric>`` at each validation step (the steps every run of the group logged);
- ``grad_summary/<q>/<summary>`` at each profile step;
- ``grad_profile/<q>`` at the plotted step, with the timestep as TensorBoard's step (log10 norms,
  exact zeros at the floor of ``seqnet.gradients.profiles``);

and a CUSTOM SCALARS layout of margin charts over them (the same categories in every aggregate
run, so TensorBoard overlays the groups), and an HPARAMS entry with the key set every run logs:
the group's shared settings, its seeds, its n, and the medians of its runs' final metrics.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from seqnet.analysis.groups import Group
from seqnet.analysis.scalars import group_curves
from seqnet.gradients.profiles import log10_norms
from seqnet.gradients.summaries import SUMMARIES
from seqnet.resolvers import fit_folder_name
from seqnet.tblog.hparams import all_metric_tags, group_hparams

log = logging.getLogger(__name__)

AGGREGATE_FOLDER = "aggregate"
#: The three series of a margin chart: the value, its lower and its upper bound.
SERIES = ("median", "q25", "q75")
VALIDATION = "validation: median and interquartile range over the group's runs"
SUMMARY_CHARTS = "gradient summaries over training: median and interquartile range"
PROFILE_CHARTS = "gradient profile per timestep (log10 norm): median and interquartile range"


def folder_name(label: str) -> str:
    """A group's folder: its label without spaces or slashes, cut to a file system's length."""
    return fit_folder_name(label.replace(", ", ",").replace("/", "_").replace(" ", "_"))


def quartiles(values: np.ndarray) -> np.ndarray:
    """(3, ...) median, 25th and 75th percentiles over axis 0 (the runs)."""
    return np.percentile(values, [50, 25, 75], axis=0)


def margin(tag: str) -> list:
    return ["Margin", [f"{tag}/{s}" for s in SERIES]]


def write_aggregates(sweep_dir: Path, groups: Sequence[Group], steps: Sequence[int]) -> list[Path]:
    """Write (or rewrite) one aggregate run per group; returns their folders."""
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams

    root = sweep_dir / AGGREGATE_FOLDER
    written = []
    for group, step in zip(groups, steps, strict=True):
        folder = root / folder_name(group.label)
        if folder.exists():  # an earlier aggregate of this group: replaced, not appended to
            shutil.rmtree(folder)
        writer = SummaryWriter(log_dir=str(folder))
        layout: dict[str, dict[str, list]] = {
            VALIDATION: {},
            SUMMARY_CHARTS: {},
            PROFILE_CHARTS: {},
        }
        for tag, (val_steps, values) in group_curves(group, "val/").items():
            for s, stats in zip(val_steps.tolist(), quartiles(values).T, strict=True):
                for name, value in zip(SERIES, stats, strict=True):
                    writer.add_scalar(f"{tag}/{name}", float(value), s)
            layout[VALIDATION][tag] = margin(tag)
        first = group.runs[0]
        for q in group.quantities:
            per_run = [
                [run.profile(int(s)).summary(q, run.horizon_threshold) for s in first.steps]
                for run in group.runs
            ]
            for summary in SUMMARIES:
                tag = f"grad_summary/{q}/{summary}"
                values = np.array([[p[summary] for p in run] for run in per_run], dtype=float)
                for s, stats in zip(first.steps.tolist(), quartiles(values).T, strict=True):
                    for name, value in zip(SERIES, stats, strict=True):
                        writer.add_scalar(f"{tag}/{name}", float(value), int(s))
                layout[SUMMARY_CHARTS][tag] = margin(tag)
            logs = np.stack([log10_norms(r.profile(step).norms[q], r.dtype) for r in group.runs])
            tag = f"grad_profile/{q}"
            for t, stats in enumerate(quartiles(logs).T):
                for name, value in zip(SERIES, stats, strict=True):
                    writer.add_scalar(f"{tag}/{name}", float(value), t)
            layout[PROFILE_CHARTS][tag] = margin(tag)
        writer.add_custom_scalars(layout)
        # HPARAMS: the columns every run of a sweep logs (so TensorBoard shows the aggregates
        # beside the jobs), with the group's shared values, its seeds and n; the metric columns
        # hold the median of the runs' final metrics.
        final_step = max(int(r.metrics.get("step", 0) or 0) for r in group.runs)
        for split in ("val", "test"):
            names = {k for r in group.runs for k in r.metrics if k.startswith(f"{split}/")}
            for name in sorted(names):
                values = [r.metrics.get(name) for r in group.runs]
                finite = [float(v) for v in values if isinstance(v, int | float)]
                if finite:
                    metric = f"final/{split}_{name.split('/', 1)[1]}"
                    writer.add_scalar(metric, float(np.median(finite)), final_step)
        file_writer = writer._get_file_writer()
        columns = group_hparams([r.config for r in group.runs])
        for summary in hparams(columns, dict.fromkeys(all_metric_tags(), 0.0)):
            file_writer.add_summary(summary)
        writer.close()
        written.append(folder)
    return written


def aggregate_sweep(sweep_dir: Path) -> list[Path]:
    """At the end of a sweep: the aggregate runs of its groups of seeds, when it has any (a
    group of two runs or more); never raises (a sweep's own results come first: whatever stops
    an aggregate is logged and its group skipped)."""
    from seqnet.analysis.groups import check_group, group_runs
    from seqnet.analysis.runs import find_runs, load_run
    from seqnet.analysis.steps import choose_steps
    from seqnet.errors import SeqnetError

    try:
        runs = [r for r in (load_run(p) for p in find_runs([sweep_dir])) if r.has_profiles]
        groups = [g for g in group_runs(runs) if g.n >= 2]
    except SeqnetError as e:  # no runs with profiles (grad_log off), an unreadable file
        log.info("no aggregate runs for %s: %s", sweep_dir, e)
        return []
    comparable = []
    for group in groups:
        try:
            check_group(group)
        except SeqnetError as e:
            log.warning("no aggregate run for %s: %s", group.label, e)
            continue
        comparable.append(group)
    if not comparable:  # also a sweep without profiles (grad_log.every_n_steps=0)
        return []
    steps, _ = choose_steps([g.runs[0] for g in comparable], [g.label for g in comparable], None)
    folders = write_aggregates(sweep_dir, comparable, steps)
    log.info(
        "aggregate runs (median and interquartile range of each group's seeds) in %s: "
        "tensorboard --logdir %s",
        sweep_dir / AGGREGATE_FOLDER,
        sweep_dir,
    )
    return folders
