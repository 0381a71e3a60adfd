"""``seqnet-compare RUN_OR_SWEEP_DIR ... [--step S] [--quantity Q] [--out FILE.png]``: the
gradient norm against the timestep of several runs in one figure, plus their summaries over
training, without TensorBoard.

    seqnet-compare outputs/multirun/2025-01-01_12-00-00          # every run of a sweep
    seqnet-compare outputs/runs/A outputs/runs/B --step 500      # two runs at training step 500
    seqnet-compare outputs/multirun/... --quantity c_l0 --out lstm_cell.png

A directory holding ``gradients.npz`` is a run; any other directory is searched recursively for
runs (sorted by path). Each run is labelled by the config keys whose values differ between the
compared runs (``model.name=gru, data.seq_len=100``), read from ``.hydra/config.yaml``, else from
the config saved in ``checkpoints/last.pt``; when nothing differs, by its folder name.

The figure (default ``compare.png``) shows, left, ``||dL/dQ(t)||`` against t on a log scale at
one training step (default: the largest step logged in every run; a run without the requested
step shows its nearest logged step, with a note), and right, ``log10_ratio`` and ``horizon``
against the training step. Exact zeros (underflow) are not drawn as part of the line: they are
marked by triangles on the time axis. A table of the same numbers is printed, then the sweep
table: one row per run, sorted by val/loss, with the final metrics and the gradient summaries
(``--csv FILE`` writes it with every quantity's summaries and the differing keys as columns).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from seqnet.cli.arguments import ArgumentError, Command, Option, nonnegative_int
from seqnet.cli.compare.labels import run_labels, run_names
from seqnet.cli.compare.plot import plot_comparison
from seqnet.cli.compare.runs import CompareError, find_runs, load_run
from seqnet.cli.compare.steps import choose_steps
from seqnet.cli.compare.sweep_table import format_sweep_table, sweep_rows, write_csv
from seqnet.cli.compare.table import RunSummary, format_table, summarize
from seqnet.plugins import PluginError, load_plugins

PROG = "seqnet-compare"
#: The default quantity: the first of these that a compared run logged (an encoder-decoder has
#: ``enc_h_l0``/``dec_h_l0`` instead of ``h_l0``).
DEFAULT_QUANTITIES = ("h_l0", "enc_h_l0", "dec_h_l0")


COMMAND = Command(
    PROG,
    "Gradient norm against timestep for several runs (or whole sweeps), labelled by what "
    "differs between them, plus their gradient summaries over training, and a table of every "
    "run's final metrics and summaries.",
    [
        Option(
            "step",
            "training step to plot (default: the largest step logged in every run)",
            kind=nonnegative_int,
            metavar="S",
        ),
        Option(
            "quantity",
            "probed quantity: x, h_l0, c_l0 (LSTM), h_l1, enc_h_l0, dec_h_l0, ... (default: "
            "h_l0, else enc_h_l0 for encoder-decoders)",
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
            "also write the sweep table (one row per run: what differs, final metrics, "
            "gradient summaries of every quantity, sorted by val/loss) as CSV",
            metavar="FILE",
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
        raise CompareError(
            f"--out {str(out)!r}: unknown figure format {suffix or '(no suffix)'!r}; use one "
            f"of {', '.join(sorted(formats))} (e.g. compare.png)"
        )


def compare(
    dirs: Sequence[str],
    step: int | None,
    quantity: str | None,
    out: Path,
    csv: Path | None = None,
) -> int:
    """Everything main does after parsing; raises CompareError before writing anything."""
    _check_out(out)
    paths = find_runs(dirs)
    runs = [load_run(p) for p in paths]
    if quantity is None:
        logged = {q for r in runs for q in r.norms}
        quantity = next((q for q in DEFAULT_QUANTITIES if q in logged), DEFAULT_QUANTITIES[0])
    labels = run_labels([r.config for r in runs], run_names(paths))
    steps, notes = choose_steps(runs, labels, step)
    notes[:0] = [note for run in runs for note in run.notes]

    has_quantity = [quantity in r.norms for r in runs]
    if not any(has_quantity):
        available = sorted({q for r in runs for q in r.norms})
        raise CompareError(
            f"--quantity {quantity!r} was logged in none of the runs; they have: "
            f"{', '.join(available)}"
        )
    for run, label, has in zip(runs, labels, has_quantity, strict=True):
        if not has:
            notes.append(
                f"{label}: has no {quantity!r} (it logged {', '.join(sorted(run.norms))}); "
                "left out of the figure"
            )

    shown = [i for i, has in enumerate(has_quantity) if has]
    shown_steps = {steps[i] for i in shown}
    # The title's step: the one every shown run uses, else the requested (or latest) one.
    target = (
        shown_steps.pop()
        if len(shown_steps) == 1
        else (step if step is not None else max(shown_steps))
    )
    fig = plot_comparison(
        [runs[i] for i in shown],
        [labels[i] for i in shown],
        [steps[i] for i in shown],
        quantity,
        target,
    )
    rows: list[RunSummary | tuple[str, int]] = [
        summarize(run, label, s, quantity) if has else (label, s)
        for run, label, s, has in zip(runs, labels, steps, has_quantity, strict=True)
    ]

    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(format_table(rows, quantity))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    print(f"wrote {out}")
    rows = sweep_rows(runs, labels, steps)
    print(f"\n{format_sweep_table(rows, quantity)}")
    if csv is not None:
        write_csv(rows, csv)
        print(f"wrote {csv}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``seqnet-compare``; returns the exit status (2 for unusable input)."""
    try:
        args = COMMAND.parse(sys.argv[1:] if argv is None else argv)
        if args is None:  # --help
            return 0
        load_plugins()  # a plugin's gradient summaries are columns of the tables and the CSV
        csv = Path(args["csv"]) if args["csv"] else None
        return compare(args["positional"], args["step"], args["quantity"], Path(args["out"]), csv)
    except ArgumentError as e:
        print(COMMAND.error(e), file=sys.stderr)
        return 2
    except (CompareError, PluginError) as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
