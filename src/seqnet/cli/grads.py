"""``seqnet-grads ckpt=PATH [dtype=float32|float64] [loss=last|total] [batch_size=N] [seq_len=T]
[device=cpu] [out=FILE.json]``: the exact per-timestep gradient profile of a saved checkpoint.

The model and task are rebuilt from the checkpoint's own config (any registered model); the
probe batch is the first ``batch_size`` sequences of that task's fixed validation set, as during
training. ``dtype``, ``loss`` and ``batch_size`` default to the checkpoint's own ``grad_log``
settings, and the horizon uses its ``grad_log.horizon_threshold``, so that the numbers are those
training logged. Prints a short table and writes the profile as JSON (default: next to the
checkpoint, named after the options given: ``last_grads.json`` with none,
``last_grads_float64_loss-total_b64_T200.json`` with ``dtype=float64 loss=total batch_size=64
seq_len=200``), so that calls with other options keep each other's files.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from seqnet.cli.arguments import ArgumentError, Command, Option, one_of, positive_int
from seqnet.errors import SeqnetError

if TYPE_CHECKING:  # imported when used: --help and argument errors answer at once
    import torch

    from seqnet.data import Task

PROG = "seqnet-grads"
COMMAND = Command(
    PROG,
    "The exact per-timestep gradient profile of a saved checkpoint, on the probe batch its run "
    "used; printed as a table and written as JSON.",
    [
        Option("ckpt", "a run's checkpoint (checkpoints/last.pt)", metavar="PATH", required=True),
        Option(
            "dtype",
            "the probe's dtype (default: the run's grad_log.dtype)",
            kind=one_of("float32", "float64"),
        ),
        Option(
            "loss",
            "last | total (default: the run's grad_log.loss)",
            kind=one_of("last", "total"),
        ),
        Option(
            "batch_size",
            "the probe batch's size (default: the run's grad_log.batch_size)",
            kind=positive_int,
            metavar="N",
        ),
        Option(
            "seq_len",
            "another sequence length, for tasks that have one",
            kind=positive_int,
            metavar="T",
        ),
        Option("device", "cpu | cuda | cuda:N | auto", default="cpu"),
        Option(
            "out",
            "the JSON file (default: beside the checkpoint, named after the options given, "
            "e.g. last_grads_float64_T200.json)",
            metavar="FILE.json",
        ),
    ],
)


def profile_checkpoint(options: dict[str, Any]) -> dict[str, Any]:
    """Measure the profile; returns the JSON-ready result."""
    from seqnet.config import GradLogConfig
    from seqnet.gradients import measure_profile
    from seqnet.models import build_model
    from seqnet.plugins import load_plugins
    from seqnet.registry import plain
    from seqnet.training.checkpoint import load_checkpoint
    from seqnet.training.device import configure_cpu, resolve_device

    load_plugins()  # the checkpoint may hold a model or task that a plugin registers
    device = resolve_device(str(options["device"]), key="device")
    ckpt_path = str(options["ckpt"])
    checkpoint = load_checkpoint(ckpt_path, map_location=device)
    config = checkpoint["config"]
    if device.type == "cpu":  # as the training run measured: with its own denormal setting
        configure_cpu(bool(config.get("trainer", {}).get("flush_denormal", True)))
    # The checkpoint's own grad_log settings, the schema's defaults for any it lacks.
    defaults = {k: plain(v) for k, v in asdict(GradLogConfig()).items()}
    logged = {**defaults, **(config.get("grad_log") or {})}
    dtype = options["dtype"] or str(logged["dtype"])
    loss = options["loss"] or str(logged["loss"])
    batch_size = options["batch_size"] or int(logged["batch_size"])
    threshold = float(logged["horizon_threshold"])

    task = rebuild_task(config["data"], options["seq_len"], batch_size, device)
    model = build_model(config["model"], task.spec).to(device)
    missing = [k for k in model.state_dict() if k not in checkpoint["model"]]
    if missing:  # load_state_dict would say so in a traceback of every key
        raise SeqnetError(
            f"checkpoint {ckpt_path!r} does not fit the model its config names "
            f"(model={config['model'].get('name')}): {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} missing; use the checkpoint as its run "
            "wrote it"
        )
    model.load_state_dict(checkpoint["model"])
    try:
        probe_batch = task.probe_batch(batch_size)
    except ValueError as e:
        raise SeqnetError(
            f"batch_size={batch_size} is larger than the probe batches task "
            f"{config['data']['name']!r} can give; use a smaller batch_size"
        ) from e
    profile = measure_profile(model, task, probe_batch, int(checkpoint["step"]), dtype, loss)
    return {
        "checkpoint": ckpt_path,
        "step": profile.step,
        "model": config["model"]["name"],
        "data": config["data"]["name"],
        "seq_len": profile.seq_len,
        "batch_size": batch_size,
        "dtype": profile.dtype,
        "loss": loss,
        "horizon_threshold": threshold,
        "norms": {q: profile.norms[q].tolist() for q in profile.norms},
        "summary": {q: profile.summary(q, threshold) for q in profile.norms},
    }


def rebuild_task(
    data: dict[str, Any], seq_len: int | None, batch_size: int, device: torch.device
) -> Task:
    """The checkpoint's task, at another length if asked, with a validation set that holds at
    least ``batch_size`` sequences (held-out sets are drawn block by block, so its first
    sequences, the training run's probe batch, stay the same)."""
    from seqnet.data import build_task

    data_cfg = dict(data)
    if seq_len is not None:
        if "seq_len" not in data_cfg:
            raise SeqnetError(
                f"seq_len={seq_len}: the checkpoint's task {data_cfg['name']!r} has a fixed "
                "length; leave seq_len out"
            )
        data_cfg["seq_len"] = seq_len
    if "val_size" in data_cfg:
        data_cfg["val_size"] = max(int(data_cfg["val_size"]), batch_size)
    try:
        return build_task(data_cfg, device)
    except (ValueError, KeyError) as e:
        given = f"seq_len={seq_len}: " if seq_len is not None else ""
        raise SeqnetError(f"{given}{str(e).strip(chr(39))}") from e


def default_name(options: dict[str, Any]) -> str:
    """``<checkpoint name>_grads[_<option>...].json``: one part per option given that changes
    the numbers (``float64``, ``loss-total``, ``b64``, ``T200``, in that order; ``device`` does
    not), so that two calls with other options write two files."""
    parts = [
        options["dtype"],
        options["loss"] and f"loss-{options['loss']}",
        options["batch_size"] and f"b{options['batch_size']}",
        options["seq_len"] and f"T{options['seq_len']}",
    ]
    stem = Path(str(options["ckpt"])).stem
    return "_".join([f"{stem}_grads", *(str(p) for p in parts if p)]) + ".json"


def output_path(options: dict[str, Any]) -> Path:
    """``out=``, else ``default_name(options)`` beside the checkpoint; its folder is made (and a
    folder given as out= refused) before anything is measured."""
    ckpt = Path(str(options["ckpt"]))
    out = Path(options["out"] or ckpt.with_name(default_name(options)))
    if out.is_dir():
        raise SeqnetError(f"out={out} is a folder; give a file name, e.g. out={out / 'grads.json'}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SeqnetError(f"cannot write out={out} ({e.strerror}); choose another") from e
    return out


def format_table(result: dict[str, Any], columns: int = 5) -> str:
    """log10 norms at a few timesteps plus the summaries, one row per quantity."""
    from seqnet.gradients.profiles import log10_floor
    from seqnet.gradients.summaries import SUMMARIES
    from seqnet.tblog.grad_views import depth_timesteps

    seq_len = result["seq_len"]
    times = depth_timesteps(seq_len, columns)
    head = ["quantity", *(f"t={t}" for t in times), *SUMMARIES]
    rows = [head]
    for q, norms in result["norms"].items():
        arr = np.asarray(norms)
        with np.errstate(divide="ignore"):
            logs = np.where(arr > 0, np.log10(np.where(arr > 0, arr, 1.0)), -np.inf)
        cells = [  # blank where a quantity is shorter (an encoder-decoder's encoder side)
            "" if t >= len(logs) else f"{logs[t]:.2f}" if np.isfinite(logs[t]) else "zero"
            for t in times
        ]
        summary = result["summary"][q]
        rows.append([q, *cells, *(format_value(summary[name]) for name in SUMMARIES)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    floor = log10_floor(result["dtype"])
    title = (
        f"{result['model']} on {result['data']} (T={seq_len}), step {result['step']}: "
        f"log10 ||dL/dq(t)||, {result['dtype']}, loss={result['loss']}, "
        f"batch {result['batch_size']} (zero = underflow; summaries use {floor:g} for it; "
        f"horizon threshold {result['horizon_threshold']:g})"
    )
    return "\n".join([title, *lines])


def format_value(value: float | int) -> str:
    """A summary in a table: whole numbers as they are, others to two decimals."""
    return str(value) if isinstance(value, int) else f"{value:.2f}"


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``seqnet-grads``; returns the exit status (2 for unusable input)."""
    try:
        options = COMMAND.parse(sys.argv[1:] if argv is None else argv)
        if options is None:  # --help
            return 0
        out = output_path(options)
        result = profile_checkpoint(options)
        try:
            out.write_text(json.dumps(result, indent=1) + "\n")
        except OSError as e:
            raise SeqnetError(f"cannot write out={out} ({e.strerror}); choose another") from e
    except ArgumentError as e:
        print(COMMAND.error(e), file=sys.stderr)
        return 2
    except (SeqnetError, ValueError, KeyError) as e:  # KeyError's str() is quoted
        print(f"{PROG}: error: {str(e).strip(chr(39))}", file=sys.stderr)
        return 2
    print(format_table(result))
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
