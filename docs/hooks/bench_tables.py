"""MkDocs hook: the performance page's tables, rendered from kept benchmark reports.

A page holds a marker per report, on a line of its own:

    <!-- bench: docs/bench/cpu-avx512-amx.json -->

and this hook replaces it, before the Markdown is rendered, with what that report says: a header
(the machine, the date, the software versions, the commit measured and the command that
regenerates the report), the table of measurements and a table of the details worth reading.
The reports are what ``python scripts/bench.py --json FILE`` writes (its ``report`` dict, with
``machine`` from ``scripts/benchmarks/machine.py`` and one entry per ``Result`` of
``scripts/benchmarks/harness.py``), so no number on the page is typed by hand.

A marker whose file is missing or unreadable stops the build; a report under ``docs/bench/``
that no page shows is a warning, which ``mkdocs build --strict`` turns into a failure.
"""

from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError

log = logging.getLogger("mkdocs.hooks.bench_tables")

MARKER = re.compile(r"^(?P<indent>[ \t]*)<!--\s*bench:\s*(?P<path>\S+)\s*-->[ \t]*$", re.MULTILINE)
#: Where kept reports live, relative to the folder of mkdocs.yml.
REPORTS = "docs/bench"
#: Detail keys that are bookkeeping of the harness, not results (per-repeat lists are left out
#: as well: the raw report keeps them).
SKIPPED_DETAILS = {"others_cpu_share"}

_shown: set[Path] = set()


def on_pre_build(config: Any) -> None:
    _shown.clear()


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    root = Path(config.config_file_path).resolve().parent

    def render(match: re.Match[str]) -> str:
        path = (root / match["path"]).resolve()
        _shown.add(path)
        text = render_report(load_report(path, page.file.src_uri), match["path"], page)
        return "\n".join(match["indent"] + line for line in text.rstrip("\n").split("\n"))

    return MARKER.sub(render, markdown)


def on_env(env: Any, config: Any, files: Any) -> Any:
    root = Path(config.config_file_path).resolve().parent
    for path in sorted((root / REPORTS).glob("*.json")):
        if path.resolve() not in _shown:
            log.warning(
                "%s/%s is a kept benchmark report that no page shows: add "
                "'<!-- bench: %s/%s -->' to docs/performance.md, in the section of its "
                "CPU family or device",
                REPORTS,
                path.name,
                REPORTS,
                path.name,
            )
    return env


def load_report(path: Path, page: str) -> dict[str, Any]:
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise PluginError(f"{page}: benchmark report {path} cannot be read: {e}") from e
    missing = [k for k in ("machine", "results", "device") if k not in report]
    if missing:
        raise PluginError(
            f"{page}: {path} lacks {missing}: not a report of 'python scripts/bench.py --json' "
            "(regenerate it with that command)"
        )
    return report


# ---------------------------------------------------------------------------- rendering
def render_report(report: dict[str, Any], rel_path: str, page: Any) -> str:
    parts = [header(report, rel_path, page), "", results_table(report["results"])]
    details = details_table(report["results"])
    if details:
        parts += ["", details]
    return "\n".join(parts) + "\n"


def header(report: dict[str, Any], rel_path: str, page: Any) -> str:
    m = report["machine"]
    extensions = ", ".join(m.get("cpu_extensions") or []) or "none of those listed"
    machine = f"{m['cpu']} ({m['cpu_family']}: {extensions}), {m['cpus']} CPUs"
    if m.get("isa_limits"):
        machine += " with " + ", ".join(f"`{k}={v}`" for k, v in m["isa_limits"].items())
    if m.get("engine_kernels"):
        machine += f"; the engine's kernels: {m['engine_kernels']}"
    if "gpu" in m:
        machine += f"; GPU {m['gpu']}"
    software = [f"Python {m['python']}", f"torch {m['torch']}"]
    if "gpu" in m:
        software += [f"CUDA {m.get('cuda')}", f"cuDNN {m.get('cudnn')}"]
    else:
        onednn = m.get("onednn")
        software.append(
            f"oneDNN {onednn}"
            if isinstance(onednn, str)
            else "oneDNN " + ("available" if onednn else "not available")
        )
    run = (
        "quick run (`--quick`: fewer repeats, noisier ratios)"
        if report.get("quick")
        else "full run"
    )
    run += f", device `{report['device']}`, {report.get('threads', '?')} torch threads"
    if "reuse_cpu_memory" in report:
        run += ", CPU memory reuse " + ("on" if report["reuse_cpu_memory"] else "off")
    if isinstance(report.get("wall_s"), (int, float)):
        run += f", {report['wall_s'] / 60:.1f} minutes"
    raw = Path(rel_path).relative_to("docs").as_posix() if rel_path.startswith("docs/") else None
    link = ""
    if raw:
        # A link relative to the page, to the report as the site copies it.
        depth = len(Path(page.file.src_uri).parent.parts)
        link = f" ([raw report]({'../' * depth}{raw}))"
    commit = m.get("commit") or "unknown (not run from a git checkout)"
    rows = [
        ("Machine", machine),
        ("Date", m.get("date", "?")),
        ("Software", ", ".join(software)),
        ("Code measured", f"seqnet at commit `{commit}`"),
        ("Run", run),
        ("Regenerate", f"`{m.get('command', 'python scripts/bench.py --json ' + rel_path)}`"),
        ("Report", f"`{rel_path}`{link}"),
    ]
    return "\n".join(f"- **{k}**: {v}" for k, v in rows)


def split_name(name: str) -> tuple[str, str]:
    """``"7 engine lstm vs ..."`` -> ``("7", "engine lstm vs ...")``; a continuation row of
    the same measurement (its name starts with spaces) has no number."""
    number, _, rest = name.strip().partition(" ")
    if number.isdigit() and not name.startswith(" "):
        return number, rest
    return "", name.strip()


def value(label: str, v: Any, unit: str) -> str:
    if not isinstance(v, (int, float)) or not math.isfinite(v):
        return f"{label} n/a"
    if unit == "steps/s":
        return f"{label} {v:.2f} {unit}"
    if unit == "us" and v >= 1000:
        v, unit = v / 1000, "ms"
    return f"{label} {v:.1f} {unit}"


def ratio_text(r: dict[str, Any]) -> str:
    ratio = r.get("ratio")
    if not isinstance(ratio, (int, float)) or not math.isfinite(ratio):
        return "n/a"
    # Small ratios (data loading against a step) keep two significant digits.
    text = f"{ratio:.3f}x" if abs(ratio) >= 0.01 else f"{ratio:.2g}x"
    return text + (" (paired)" if r.get("paired_ratio") is not None else "")


def target(t: str) -> str:
    return "(info)" if t == "info" else t.replace(">=", "≥ ").replace("<=", "≤ ") + "x"


def verdict(r: dict[str, Any]) -> str:
    text = {True: "met", False: "**missed**", None: "—"}[r.get("passed")]
    return text + (" (busy)" if r.get("busy") else "")


def results_table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| # | measurement | A | B | ratio A/B | target | result |",
        "| ---: | --- | --- | --- | ---: | --- | --- |",
    ]
    for r in results:
        number, name = split_name(r["name"])
        lines.append(
            f"| {number} | {escape(name)} | {value(r['a_label'], r['a_value'], r['unit'])} "
            f"| {value(r['b_label'], r['b_value'], r['unit'])} | {ratio_text(r)} "
            f"| {target(r['target'])} | {verdict(r)} |"
        )
    return "\n".join(lines)


def details_table(results: list[dict[str, Any]]) -> str:
    """The details that are results (one value, or a small mapping), not per-repeat lists,
    one row per measurement, in a block the reader opens."""
    rows = []
    for r in results:
        number, name = split_name(r["name"])
        shown = [
            f"`{key}`: {escape(show(v))}"
            for key, v in r.get("details", {}).items()
            if key not in SKIPPED_DETAILS and not is_per_repeat(v)
        ]
        if shown:
            rows.append(f"| {number} | {escape(name)} | {'; '.join(shown)} |")
    if not rows:
        return ""
    table = ["| # | measurement | details |", "| ---: | --- | --- |", *rows]
    return '??? info "Details of this report"\n\n' + "\n".join("    " + line for line in table)


def is_per_repeat(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, (int, float)) for x in v)


def show(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict):
        return ", ".join(f"{k}: {show(x)}" for k, x in v.items())
    if isinstance(v, list):
        return "[" + ", ".join(show(x) for x in v) + "]"
    return str(v)


def escape(text: str) -> str:
    return text.replace("|", "\\|")
