"""``seqnet-compare RUN_OR_SWEEP_DIR ...``: the gradient profiles, gradient summaries and
validation curves of several runs in one figure, and their metrics in tables, without
TensorBoard; runs that differ only in their seed are one group, shown with its spread.

    seqnet-compare outputs/multirun/<timestamp>                      # a sweep, grouped by seed
    seqnet-compare outputs/multirun/<timestamp> --versus model=lstm  # differences against lstm
    seqnet-compare outputs/multirun/<timestamp> --csv sweep.csv      # the grouped table as CSV
    seqnet-compare outputs/multirun/<timestamp> --tensorboard        # aggregate runs for it
    seqnet-compare outputs/runs/A outputs/runs/B --no-group --step 500
    seqnet-compare outputs/runs/A --scalars A.csv                   # every scalar, as CSV

A directory holding ``gradients.npz``, ``metrics.json`` or ``checkpoints/last.pt`` is a run; any
other directory is searched recursively for runs (sorted by path). Runs are grouped by every
config key except ``seed`` (``--group-by KEYS`` chooses the keys, ``--no-group`` shows each run
alone); a group is labelled by the grouping keys whose values differ between the groups
(``model.name=gru``; a key most groups share a value of, only where a group departs from it:
``seqnet.analysis.labels``), read from the config saved in ``checkpoints/last.pt`` (what the run
was trained with), else from ``.hydra/config.yaml``. Runs without gradient profiles
(``grad_log.every_n_steps=0``) give the metric tables alone, with a note.

The figure (default ``compare.png``) shows, left, ``||dL/dQ(t)||`` against t on a log scale at
one training step (default: the largest step logged in every run; a group without the requested
step shows its nearest logged step, with a note) as each group's median with its interquartile
range and range; right, every gradient summary and the validation loss over training. The
printed tables give each group's profile (medians), then, for every validation and test metric
and the plotted quantity's summaries, each group's n, mean, standard deviation, median and 95%
interval (``seqnet.analysis.stats``), best first by val/loss; ``--versus GROUP`` adds each
group's difference from GROUP with its interval and p-value. ``--csv FILE`` writes every metric
of every group (``seqnet.analysis.grouped_table``), ``--tensorboard`` one aggregate TensorBoard
run per group in ``<sweep>/aggregate/<group>/`` (``seqnet.tblog.aggregate``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from seqnet.analysis.grouped_table import find_group, group_rows, prepare_groups
from seqnet.analysis.groups import Group
from seqnet.analysis.runs import AnalysisError, CompareError, find_runs, load_run
from seqnet.analysis.scalars import group_curves
from seqnet.cli.arguments import ArgumentError, Command, Option, nonnegative_int
from seqnet.cli.compare.group_tables import format_group_tables, write_group_csv
from seqnet.cli.compare.plot import legend_entries, plot_groups
from seqnet.cli.compare.profile_table import ProfileRow, format_table, summarize
from seqnet.cli.compare.sweep_table import format_sweep_table, sweep_rows, write_csv
from seqnet.errors import output_error
from seqnet.plugins import PluginError, load_plugins

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PROG = "seqnet-compare"
#: The default quantity: the first of these that a compared run logged (an encoder-decoder has
#: ``enc_h_l0``/``dec_h_l0`` instead of ``h_l0``, a bidirectional model ``h_l0_fwd``/``h_l0_bwd``).
DEFAULT_QUANTITIES = ("h_l0", "h_l0_fwd", "enc_h_l0", "enc_h_l0_fwd", "dec_h_l0")


def keys(text: str) -> list[str]:
    found = [k.strip() for k in text.split(",") if k.strip()]
    if not found:
        raise ValueError("config keys, comma-separated (e.g. model.name,data.seq_len)")
    return found


COMMAND = Command(
    PROG,
    "Gradient norm against timestep for several runs or whole sweeps, runs that differ only in "
    "their seed grouped with their spread, plus the gradient summaries and validation loss over "
    "training, and each group's metrics with intervals.",
    [
        Option(
            "step",
            "training step to plot (default: the largest step logged in every run)",
            kind=nonnegative_int,
            metavar="S",
        ),
        Option(
            "quantity",
            "probed quantity: x, h_l0, c_l0 (LSTM), h_l1, enc_h_l0, dec_h_l0, h_l0_fwd, h_l0_bwd "
            "(bidirectional), ... (default: h_l0, else h_l0_fwd for bidirectional models, "
            "enc_h_l0 for encoder-decoders)",
            metavar="Q",
        ),
        Option(
            "out",
            "figure to write (the suffix picks the format)",
            default="compare.png",
            metavar="FILE.png",
        ),
        Option(
            "csv",
            "also write the table as CSV: one row per group, every metric's n, mean, std, "
            "median, ci_low, ci_high (with --versus: diff, diff_ci_low, diff_ci_high, p)",
            metavar="FILE",
        ),
        Option(
            "group_by",
            "group runs by these config keys (default: every key except seed; model, data and "
            "optim stand for their choice)",
            kind=keys,
            metavar="KEYS",
        ),
        Option("no_group", "show every run on its own (one line per run)", kind=bool),
        Option(
            "versus",
            "compare every group with this one: its label, or key=value pairs that pick it "
            "(e.g. model=lstm)",
            metavar="GROUP",
        ),
        Option(
            "scalars",
            "only write every TensorBoard scalar of every run as CSV (run, tag, step, value, "
            "wall_time), to FILE or scalars.csv; no figure, no tables",
            metavar="FILE",
            const="scalars.csv",
        ),
        Option(
            "tensorboard",
            "write one aggregate TensorBoard run per group to <sweep>/aggregate/<group>/",
            kind=bool,
        ),
    ],
    positional="RUN_OR_SWEEP_DIR",
    style="flag",
)


def _check_out(out: Path) -> None:
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = out.suffix.lstrip(".").lower()
    if suffix not in formats:
        raise AnalysisError(
            f"--out {str(out)!r}: unknown figure format {suffix or '(no suffix)'!r}; use one "
            f"of {', '.join(sorted(formats))} (e.g. compare.png)"
        )


def compare(
    dirs: Sequence[str],
    step: int | None,
    quantity: str | None,
    out: Path,
    csv: Path | None = None,
    group_by: Sequence[str] | None = None,
    group: bool = True,
    versus: str | None = None,
    tensorboard: bool = False,
) -> int:
    """Everything main does after parsing; raises AnalysisError before writing anything."""
    _check_out(out)
    if tensorboard and (len(dirs) != 1 or not group):
        raise AnalysisError(
            "--tensorboard writes <sweep>/aggregate/: give exactly one sweep folder, grouped "
            "(without --no-group)"
        )
    runs = [load_run(p) for p in find_runs(dirs)]
    if quantity is None:
        logged = {q for r in runs for q in r.norms}
        quantity = next((q for q in DEFAULT_QUANTITIES if q in logged), DEFAULT_QUANTITIES[0])
    groups, steps, notes = prepare_groups(runs, group, group_by, step)
    reference = find_group(groups, versus) if versus is not None else None
    notes[:0] = [note for run in runs for note in run.notes]
    if tensorboard and None in steps:
        raise AnalysisError(
            "--tensorboard: some runs have no gradient profiles (trained with "
            "grad_log.every_n_steps=0); aggregate runs need them in every run"
        )

    profiled = [i for i, s in enumerate(steps) if s is not None]
    fig, rows, key = None, [], []
    if not profiled:
        notes.append(
            "no run has gradient profiles (trained with grad_log.every_n_steps=0): metrics "
            "only, no figure and no profile table"
        )
    else:
        fig, rows, key = profile_view(groups, steps, quantity, step, notes)

    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if fig is not None:
        print(format_table(rows, quantity, grouped=group))
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(out)
        except OSError as e:  # a read-only folder, a full disk: one line, not matplotlib's trace
            fix = "choose another --out"
            raise AnalysisError(str(output_error(out, e, what="--out", fix=fix))) from e
        print(f"wrote {out}")
        if key:
            print("its legend's numbers:", *key, sep="\n  ")
        print()
    if group:
        table = group_rows(groups, steps, reference)
        print(format_group_tables(table, quantity, reference.label if reference else None))
        if csv is not None:
            write_group_csv(table, csv)
            print(f"wrote {csv}")
    else:
        labels = [g.label for g in groups]
        per_run = sweep_rows([g.runs[0] for g in groups], labels, steps)
        print(format_sweep_table(per_run, quantity))
        if csv is not None:
            write_csv(per_run, csv)
            print(f"wrote {csv}")
    if tensorboard:
        from seqnet.tblog.aggregate import write_aggregates

        folders = write_aggregates(Path(dirs[0]), groups, steps)
        print(f"wrote {len(folders)} aggregate runs to {Path(dirs[0]) / 'aggregate'}")
        print(f"view them: tensorboard --logdir {dirs[0]}")
    return 0


def export_scalars(dirs: Sequence[str], path: Path) -> int:
    """``--scalars FILE``: every scalar of every run found in ``dirs`` as CSV."""
    import csv

    from seqnet.analysis.labels import run_names
    from seqnet.analysis.scalars import SCALAR_COLUMNS, scalar_records

    if path.is_dir():
        raise AnalysisError(
            f"--scalars {path}: is a folder; give a file, e.g. {path / 'scalars.csv'}"
        )
    runs = find_runs(dirs)
    records = scalar_records(runs, run_names(runs))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=SCALAR_COLUMNS)
        writer.writeheader()
        writer.writerows(records)
    tags = len({r["tag"] for r in records})
    print(f"wrote {path}: {len(records)} values of {tags} tags from {len(runs)} runs")
    return 0


def profile_view(
    groups: Sequence[Group],
    steps: Sequence[int | None],
    quantity: str,
    step: int | None,
    notes: list[str],
) -> tuple[Figure, list[ProfileRow | tuple[str, int | None]], list[str]]:
    """The figure, the profile table's rows of the groups with profiles of ``quantity`` and the
    key to the figure's numbered legend (``legend_entries``); ``notes`` gets one line per group
    left out of the figure."""
    has_quantity = [quantity in g.quantities for g in groups]
    if not any(has_quantity):
        available = sorted({q for g in groups for r in g.runs for q in r.norms})
        raise AnalysisError(
            f"--quantity {quantity!r} was logged in none of the runs; they have: "
            f"{', '.join(available)}"
        )
    for g, s, has in zip(groups, steps, has_quantity, strict=True):
        if s is None:
            notes.append(
                f"{g.label}: has no gradient profiles (trained with grad_log.every_n_steps=0); "
                "left out of the figure"
            )
        elif not has:
            notes.append(
                f"{g.label}: has no {quantity!r} (it logged "
                f"{', '.join(sorted(g.quantities))}); left out of the figure"
            )
    shown = [i for i, has in enumerate(has_quantity) if has]
    shown_steps = {steps[i] for i in shown}
    # The title's step: the one every shown group uses, else the requested (or latest) one.
    target = (
        shown_steps.pop()
        if len(shown_steps) == 1
        else (step if step is not None else max(shown_steps))
    )
    curves = [group_curves(groups[i], "val/").get("val/loss") for i in shown]
    shown_groups, plotted = [groups[i] for i in shown], [steps[i] for i in shown]
    labels, key = legend_entries(shown_groups, plotted)
    fig = plot_groups(shown_groups, plotted, quantity, target, curves, labels)
    rows: list[ProfileRow | tuple[str, int | None]] = [
        summarize(g, s, quantity) if has else (g.label, s)
        for g, s, has in zip(groups, steps, has_quantity, strict=True)
    ]
    return fig, rows, key


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``seqnet-compare``; returns the exit status (2 for unusable input)."""
    try:
        args = COMMAND.parse(sys.argv[1:] if argv is None else argv)
        if args is None:  # --help
            return 0
        if args["scalars"] is not None:
            return export_scalars(args["positional"], Path(args["scalars"]))
        load_plugins()  # a plugin's gradient summaries are columns of the tables and the CSV
        return compare(
            args["positional"],
            args["step"],
            args["quantity"],
            Path(args["out"]),
            Path(args["csv"]) if args["csv"] else None,
            group_by=args["group_by"],
            group=not args["no_group"],
            versus=args["versus"],
            tensorboard=args["tensorboard"],
        )
    except ArgumentError as e:
        print(COMMAND.error(e), file=sys.stderr)
        return 2
    except (CompareError, PluginError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
