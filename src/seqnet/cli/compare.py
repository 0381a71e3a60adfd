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
marked by triangles on the time axis. A table of the same numbers is printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seqnet.errors import SeqnetError
from seqnet.gradients import GRADIENTS_FILE, GradientProfile, load_gradients
from seqnet.logging.hparams import flatten

PROG = "seqnet-compare"
#: The default quantity: the first of these that a compared run logged (an encoder-decoder has
#: ``enc_h_l0``/``dec_h_l0`` instead of ``h_l0``).
DEFAULT_QUANTITIES = ("h_l0", "enc_h_l0", "dec_h_l0")
DEFAULT_THRESHOLD = 1e-3

#: Config keys left out of labels: where a run was written and how it was displayed or placed
#: do not change what was trained.
IGNORED_KEYS = ("ckpt_path", "trainer.progress_bar", "trainer.device")
IGNORED_PREFIXES = ("paths", "hydra")


class CompareError(SeqnetError):
    """Input that seqnet-compare cannot use: no runs, an unknown step or quantity, a bad file."""


@dataclass
class Run:
    """One run directory: its gradient profiles, flat config and final metrics."""

    path: Path
    steps: np.ndarray
    norms: dict[str, np.ndarray]
    dtype: str
    config: dict[str, Hashable] = field(default_factory=dict)
    config_source: str = "none"
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def horizon_threshold(self) -> float:
        """The run's own ``grad_log.horizon_threshold``, as its TensorBoard summaries used."""
        value = self.config.get("grad_log.horizon_threshold")
        return float(value) if isinstance(value, int | float) else DEFAULT_THRESHOLD

    def profile(self, step: int) -> GradientProfile:
        """The profile logged at training ``step`` (which must be one of ``steps``)."""
        (row,) = np.flatnonzero(self.steps == step)
        return GradientProfile(
            int(step), {q: values[row] for q, values in self.norms.items()}, self.dtype
        )


@dataclass
class RunSummary:
    """One table row: the plotted profile of one quantity, reduced to a few numbers."""

    label: str
    step: int
    log10_first: float  # log10 norm at t=0 (the floor of log10_floor(dtype) for an exact zero)
    log10_last: float  # ... at t=T-1
    log10_ratio: float
    horizon: int
    zero_steps: int
    first_is_zero: bool
    last_is_zero: bool
    val_loss: float | None


# ------------------------------------------------------------------------------ finding runs
def find_runs(directories: Sequence[str | Path]) -> list[Path]:
    """Run folders (those holding gradients.npz) in argument order; each sweep sorted by path."""
    runs: list[Path] = []
    for arg in directories:
        directory = Path(arg)
        if not directory.is_dir():
            what = "is a file, not a directory" if directory.exists() else "does not exist"
            raise CompareError(f"{str(directory)!r} {what}; give run or sweep directories")
        if (directory / GRADIENTS_FILE).is_file():
            found = [directory]
        else:
            found = sorted(p.parent for p in directory.rglob(GRADIENTS_FILE) if p.is_file())
        if not found:
            raise CompareError(
                f"no runs with gradient profiles in {str(directory)!r}: no {GRADIENTS_FILE} "
                "in it or below it. Runs write it only when gradients are logged: train with "
                "grad_log.every_n_steps > 0 (the default is 100)"
            )
        runs.extend(found)
    unique: dict[Path, Path] = {}  # a run given twice (alone and in its sweep) is shown once
    for run in runs:
        unique.setdefault(run.resolve(), run)
    return list(unique.values())


def load_run(path: Path) -> Run:
    """Read a run folder's gradients.npz, config and metrics.json."""
    try:
        steps, norms, meta = load_gradients(path / GRADIENTS_FILE)
    except (OSError, ValueError, KeyError) as e:
        raise CompareError(
            f"{str(path / GRADIENTS_FILE)!r} is not a readable seqnet gradients file "
            f"({type(e).__name__}: {e}); it is rewritten at every checkpoint, so re-run or "
            "leave this run out"
        ) from e
    tree, source = run_config(path)
    metrics: dict[str, Any] = {}
    metrics_file = path / "metrics.json"
    if metrics_file.is_file():
        try:
            metrics = json.loads(metrics_file.read_text())
        except (OSError, ValueError):
            metrics = {}  # a run still training or killed: its table cell reads "-"
    return Run(path, steps, norms, meta["dtype"], flatten_config(tree), source, metrics)


def run_config(path: Path) -> tuple[dict[str, Any], str]:
    """The run's composed config as a plain dict, and where it came from.

    ``.hydra/config.yaml`` exists for runs launched by seqnet-train; runs made with the Python
    API have only the config saved in their checkpoint.
    """
    hydra_config = path / ".hydra" / "config.yaml"
    if hydra_config.is_file():
        from omegaconf import OmegaConf

        conf = OmegaConf.load(hydra_config)
        for key in IGNORED_PREFIXES:  # ${hydra:...} cannot be resolved outside a Hydra job
            conf.pop(key, None)
        try:
            tree = OmegaConf.to_container(conf, resolve=True, enum_to_str=True)
        except Exception:  # an interpolation that needs Hydra: keep the raw text
            tree = OmegaConf.to_container(conf, resolve=False, enum_to_str=True)
        if isinstance(tree, dict):
            return tree, ".hydra/config.yaml"
    checkpoint = path / "checkpoints" / "last.pt"
    if checkpoint.is_file():
        from seqnet.training.checkpoint import load_checkpoint

        try:
            config = load_checkpoint(checkpoint)["config"]
        except SeqnetError:
            config = None
        if isinstance(config, dict):
            return config, "checkpoints/last.pt"
    return {}, "none"


# ------------------------------------------------------------------------------ labels
def flatten_config(tree: dict[str, Any], prefix: str = "") -> dict[str, Hashable]:
    """``{"model": {"name": "gru"}}`` -> ``{"model.name": "gru"}``, without the keys that do not
    change what is trained (``paths.*``, ``hydra``, ``ckpt_path``, ...); lists and other
    unhashable values become their ``str``."""
    return {
        name: value if isinstance(value, Hashable) else str(value)
        for name, value in flatten(tree, prefix.rstrip("."), sep=".").items()
        if name not in IGNORED_KEYS and name.split(".")[0] not in IGNORED_PREFIXES
    }


def _format_item(key: str, value: Hashable) -> str:
    # optim._target_=torch.optim.SGD is what optim=sgd chose: say "optim=SGD".
    if key.endswith("._target_") and isinstance(value, str):
        return f"{key.removesuffix('._target_')}={value.rsplit('.', 1)[-1]}"
    return f"{key}={value}"


def differing_keys(configs: Sequence[dict[str, Hashable]]) -> list[str]:
    """Keys with two or more different values among the runs that have them.

    A key only some runs have and that is equal wherever present (``model.nonlinearity`` of the
    RNN runs next to a GRU) follows from another key (``model.name``) and is left out. Order:
    ``model.name`` first, then the order of the keys in the configs.
    """
    order: dict[str, None] = {}
    for config in configs:
        order.update(dict.fromkeys(config))
    keys = [
        key
        for key in order
        if len({repr(c[key]) for c in configs if key in c}) > 1  # repr: 1 and True differ
    ]
    return sorted(keys, key=lambda k: k != "model.name")  # stable: the rest keep their order


def run_labels(configs: Sequence[dict[str, Hashable]], names: Sequence[str]) -> list[str]:
    """``"model.name=gru, data.seq_len=100"`` per run: the values that differ between the runs;
    a run with none of them is labelled by its name, and equal labels get the name appended."""
    keys = differing_keys(configs)
    labels = [
        ", ".join(_format_item(k, c[k]) for k in keys if k in c) or name
        for c, name in zip(configs, names, strict=True)
    ]
    return [
        f"{label} ({name})" if labels.count(label) > 1 and label != name else label
        for label, name in zip(labels, names, strict=True)
    ]


def run_names(paths: Sequence[Path]) -> list[str]:
    """Folder names, or parent/name where two runs' folders share a name (two sweeps)."""
    names = [p.name for p in paths]
    return [f"{p.parent.name}/{p.name}" if names.count(p.name) > 1 else p.name for p in paths]


# ------------------------------------------------------------------------------ steps
def _describe_steps(steps: np.ndarray) -> str:
    values = [str(int(s)) for s in steps]
    if len(values) > 8:
        values = [*values[:3], "...", *values[-2:]]
    return ", ".join(values)


def choose_steps(
    runs: Sequence[Run], labels: Sequence[str], requested: int | None
) -> tuple[list[int], list[str]]:
    """The training step plotted for each run, and notes about runs that show another one.

    Default: the largest step logged in every run. A requested step that a run did not log is
    replaced, for that run, by its nearest logged step (the earlier one on a tie).
    """
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
        raise CompareError(f"--step {requested} must be >= 0 (a training step)")
    last = max(int(r.steps.max()) for r in runs)
    if requested > last:
        raise CompareError(
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


# ------------------------------------------------------------------------------ numbers
def summarize(run: Run, label: str, step: int, quantity: str) -> RunSummary:
    """The table row of ``run`` at ``step`` (``quantity`` must be one the run logged)."""
    profile = run.profile(step)
    logs = profile.log10(quantity)
    norms = profile.norms[quantity]
    val_loss = run.metrics.get("val/loss")
    return RunSummary(
        label=label,
        step=step,
        log10_first=float(logs[0]),
        log10_last=float(logs[-1]),
        log10_ratio=profile.log10_ratio(quantity),
        horizon=profile.horizon(quantity, run.horizon_threshold),
        zero_steps=profile.zero_steps(quantity),
        first_is_zero=bool(norms[0] == 0),
        last_is_zero=bool(norms[-1] == 0),
        val_loss=float(val_loss) if isinstance(val_loss, int | float) else None,
    )


def format_table(rows: Sequence[RunSummary | tuple[str, int]], quantity: str) -> str:
    """Plain-text table, one line per run; a ``(label, step)`` row is a run without
    ``quantity``. An exact-zero norm prints as ``zero`` (``log10_ratio`` uses the floor)."""
    head = [
        "run",
        "step",
        "log10 t=0",
        "log10 t=T-1",
        "log10_ratio",
        "horizon",
        "zero_steps",
        "val/loss",
    ]
    lines = [head]
    for row in rows:
        if isinstance(row, RunSummary):
            lines.append(
                [
                    row.label,
                    str(row.step),
                    "zero" if row.first_is_zero else f"{row.log10_first:.3f}",
                    "zero" if row.last_is_zero else f"{row.log10_last:.3f}",
                    f"{row.log10_ratio:.3f}",
                    str(row.horizon),
                    str(row.zero_steps),
                    "-" if row.val_loss is None else f"{row.val_loss:.4g}",
                ]
            )
        else:
            label, step = row
            lines.append([label, str(step), *["-"] * 5, "-"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    text = [
        "  ".join(
            [
                line[0].ljust(widths[0]),
                *(c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)),
            ]
        ).rstrip()
        for line in lines
    ]
    title = f"gradient norm of {quantity}, log10 ||dL/d{quantity}(t)||:"
    return "\n".join([title, *text])


# ------------------------------------------------------------------------------ figure
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


# ------------------------------------------------------------------------------ command
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Gradient norm against timestep for several runs (or whole sweeps), "
        "labelled by what differs between them, plus their gradient summaries over training.",
    )
    parser.add_argument(
        "dirs", nargs="+", metavar="RUN_OR_SWEEP_DIR", help="run folders or sweep folders"
    )
    parser.add_argument(
        "--step",
        type=int,
        default=None,
        metavar="S",
        help="training step to plot (default: the largest step logged in every run)",
    )
    parser.add_argument(
        "--quantity",
        default=None,
        metavar="Q",
        help="probed quantity: x, h_l0, c_l0 (LSTM), h_l1, enc_h_l0, dec_h_l0, ... (default: "
        "h_l0, else enc_h_l0 for encoder-decoders)",
    )
    parser.add_argument(
        "--out",
        default="compare.png",
        metavar="FILE.png",
        help="figure to write (default: compare.png; the suffix picks the format)",
    )
    return parser


def _check_out(out: Path) -> None:
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = out.suffix.lstrip(".").lower()
    if suffix not in formats:
        raise CompareError(
            f"--out {str(out)!r}: unknown figure format {suffix or '(no suffix)'!r}; use one "
            f"of {', '.join(sorted(formats))} (e.g. compare.png)"
        )


def compare(dirs: Sequence[str], step: int | None, quantity: str | None, out: Path) -> int:
    """Everything main does after parsing; raises CompareError before writing anything."""
    _check_out(out)
    paths = find_runs(dirs)
    runs = [load_run(p) for p in paths]
    if quantity is None:
        logged = {q for r in runs for q in r.norms}
        quantity = next((q for q in DEFAULT_QUANTITIES if q in logged), DEFAULT_QUANTITIES[0])
    labels = run_labels([r.config for r in runs], run_names(paths))
    steps, notes = choose_steps(runs, labels, step)

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
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``seqnet-compare``; returns the exit status (2 for unusable input)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (2, message already printed)
        return e.code if isinstance(e.code, int) else 2
    try:
        return compare(args.dirs, args.step, args.quantity, Path(args.out))
    except CompareError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
