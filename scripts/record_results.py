#!/usr/bin/env python
"""Keep a seeded experiment's results for the docs' results page: the grouped table of its sweep
(``seqnet-compare --csv``), its figure, and what it ran on.

    python scripts/record_results.py NAME --sweep DIR --command "seqnet-train experiment=..."
    python scripts/record_results.py NAME --sweep A --command "..." --sweep B --command "..."

writes ``docs/results/NAME.csv`` (one row per group: n, mean, std, median and 95% interval of
every metric, the gradient summaries at the last profile step; see
``seqnet.analysis.grouped_table``), ``docs/results/NAME.step0.csv`` (the same with the summaries
at step 0, before any update), ``docs/images/NAME.png`` (the banded figure) and
``docs/results/NAME.json`` (the command that made the sweep, the number of runs and seeds, the
wall time from the first job's start to the last job's end, the machine, the date, the
versions). The results page renders its tables from these files (``docs/hooks/results_tables.py``),
so no number is typed by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

import torch

from benchmarks.machine import describe_machine

ROOT = Path(__file__).resolve().parents[1]


def wall_time(sweep: Path) -> float:
    """Seconds from the first job's config (written as it starts) to the last job's metrics."""
    starts = [p.stat().st_mtime for p in sweep.glob("*/.hydra/config.yaml")]
    ends = [p.stat().st_mtime for p in sweep.glob("*/metrics.json")]
    return max(ends) - min(starts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name")
    parser.add_argument("--sweep", type=Path, action="append", required=True, help="repeatable")
    parser.add_argument(
        "--command", action="append", required=True, help="the seqnet-train command of each sweep"
    )
    parser.add_argument("--versus", help="a reference group (seqnet-compare --versus)")
    parser.add_argument("--quantity", help="the plotted quantity (seqnet-compare --quantity)")
    args = parser.parse_args(argv)

    from seqnet.cli.compare import main as compare

    csv = ROOT / "docs" / "results" / f"{args.name}.csv"
    figure = ROOT / "docs" / "images" / f"{args.name}.png"
    sweeps = [str(sweep) for sweep in args.sweep]
    options = [*sweeps, "--out", str(figure), "--csv", str(csv)]
    if args.versus:
        options += ["--versus", args.versus]
    if args.quantity:
        options += ["--quantity", args.quantity]
    status = compare(options)
    if status:
        return status
    with tempfile.TemporaryDirectory() as scratch:  # the same tables, at step 0
        initial = [*sweeps, "--out", f"{scratch}/step0.png", "--step", "0"]
        initial += ["--csv", str(csv.with_suffix(".step0.csv"))]
        if args.quantity:
            initial += ["--quantity", args.quantity]
        with contextlib.redirect_stdout(io.StringIO()):
            status = compare(initial)
    if status:
        return status
    runs = [p for sweep in args.sweep for p in sweep.glob("*/metrics.json")]
    machine = describe_machine(torch.device("cpu"))
    machine["command"] = " ; ".join(args.command)
    folders = ["outputs/multirun/<timestamp>"] * len(sweeps)
    compare_line = " ".join([*folders, *options[len(sweeps) :]]).replace(str(ROOT) + "/", "")
    record = {
        "name": args.name,
        "runs": len(runs),
        "wall_s": round(sum(wall_time(sweep) for sweep in args.sweep)),
        "compare": f"seqnet-compare {compare_line}",
        **machine,
    }
    (csv.with_suffix(".json")).write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {csv}, {figure} and {csv.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
