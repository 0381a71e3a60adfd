"""MkDocs hook: the results page's tables, rendered from kept seeded sweeps.

A page holds a marker per table, on a line of its own:

    <!-- results: copy_memory metrics=val/baseline_ratio,val/recall_accuracy,h_l0/horizon -->

and this hook replaces it with a header (the command that made the sweep, its runs, its wall
time, the machine, the date, the versions, and the ``seqnet-compare`` command that made the
table) and one row per group of seeds: its n and, for each metric, the mean with its 95%
bootstrap interval. It reads ``docs/results/<name>.csv`` (written by ``seqnet-compare --csv``)
and ``docs/results/<name>.json`` (by ``scripts/record_results.py``), so no number is typed by
hand. ``order="a|b|..."`` lists parts of group labels in the order rows are shown (default: the
CSV's, best val/loss first), ``only="a|b"`` shows only the rows whose label has one of them;
``step=0`` takes the gradient summaries at step 0, before any update
(``<name>.step0.csv``). A missing file or column stops the build.
"""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

MARKER = re.compile(r"^<!--\s*results:\s*(?P<name>\S+)(?P<options>[^>]*)-->[ \t]*$", re.MULTILINE)
RESULTS = "docs/results"


def number(text: str) -> str:
    if text == "":
        return "-"
    value = float(text)
    if not math.isfinite(value):
        return "-"
    if value != 0 and (abs(value) >= 1e4 or abs(value) < 1e-3):
        return f"{value:.2e}"
    return f"{value:.4g}" if abs(value) < 10 else f"{value:.3g}"


def cell(row: dict[str, str], metric: str) -> str:
    if f"{metric}/mean" not in row:
        raise KeyError(metric)
    mean, low, high = (row[f"{metric}/{k}"] for k in ("mean", "ci_low", "ci_high"))
    if low == "":
        return number(mean)
    return f"{number(mean)} [{number(low)}, {number(high)}]"


def render(root: Path, name: str, options: str, page: str) -> str:
    values = {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', options)}
    metrics = values.get("metrics", "val/loss").split(",")
    record = root / RESULTS / f"{name}.json"
    # step=0: the gradient summaries before any update (record_results.py's NAME.step0.csv).
    table = root / RESULTS / (f"{name}.step0.csv" if values.get("step") == "0" else f"{name}.csv")
    try:
        rows = list(csv.DictReader(table.open()))
        meta = json.loads(record.read_text())
    except (OSError, ValueError) as e:
        raise PluginError(f"{page}: results {name!r}: {e}") from e
    keys = [k for k in rows[0] if k not in ("group", "n", "grad_step") and "/" not in k]
    if "only" in values:  # "|"-separated parts of group labels: only the rows that have one
        rows = [r for r in rows if any(part in r["group"] for part in values["only"].split("|"))]
    if "order" in values:  # "|"-separated parts of group labels, in the order to show them
        wanted = values["order"].split("|")
        rows.sort(key=lambda r: next((i for i, w in enumerate(wanted) if w in r["group"]), 99))
    head = [*keys, "n", *(f"`{m}` mean [95% CI]" for m in metrics)]
    lines = [
        f"`{meta['command']}` ({meta['runs']} runs, {meta['wall_s'] / 60:.0f} min of wall time), "
        f"then `{meta['compare']}`. Measured on {meta['cpu']} ({meta['cpu_family']}, "
        f"{meta['cpus']} CPUs), {meta['date']}, Python {meta['python']}, torch {meta['torch']}; "
        f"gradient summaries at training step {rows[0]['grad_step']}.",
        "",
        "| " + " | ".join(head) + " |",
        "| " + " | ".join(["---"] * len(keys) + ["---:"] * (1 + len(metrics))) + " |",
    ]
    for row in rows:
        try:
            cells = [*(row[k] or "-" for k in keys), row["n"], *(cell(row, m) for m in metrics)]
        except KeyError as e:
            raise PluginError(f"{page}: results {name!r} has no metric {e}") from e
        lines.append(
            "| " + " | ".join(f"`{c}`" if i < len(keys) else c for i, c in enumerate(cells)) + " |"
        )
    return "\n".join(lines)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    root = Path(config.config_file_path).resolve().parent
    return MARKER.sub(lambda m: render(root, m["name"], m["options"], page.file.src_uri), markdown)
