"""``seqnet-grads ckpt=PATH [dtype=float64] [loss=last|total] [batch_size=64] [seq_len=T]
[device=cpu] [out=FILE.json]``: the exact per-timestep gradient profile of a saved checkpoint.

The model and task are rebuilt from the checkpoint's own config (any registered model); the
probe batch is the first ``batch_size`` sequences of that task's fixed validation set, as during
training. Prints a short table and writes the profile as JSON (default: next to the checkpoint,
``<name>_grads.json``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from seqnet.errors import SeqnetError

USAGE = (
    "usage: seqnet-grads ckpt=PATH [dtype=float32|float64] [loss=last|total] [batch_size=N] "
    "[seq_len=T] [device=cpu|cuda] [out=FILE.json]"
)
_DEFAULTS: dict[str, str | None] = {
    "ckpt": None,
    "dtype": "float32",
    "loss": "last",
    "batch_size": "64",
    "seq_len": None,
    "device": "cpu",
    "out": None,
}


def parse_args(argv: list[str]) -> dict[str, str | None]:
    """``key=value`` arguments, in the style of Hydra overrides."""
    options = dict(_DEFAULTS)
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep or key not in options:
            raise SeqnetError(f"unknown argument {arg!r}\n{USAGE}")
        options[key] = value
    if not options["ckpt"]:
        raise SeqnetError(f"ckpt=PATH is required\n{USAGE}")
    for key in ("batch_size", "seq_len"):
        value = options[key]
        if value is not None and (not value.isdigit() or int(value) < 1):
            raise SeqnetError(f"{key}={value} must be a positive integer")
    return options


def profile_checkpoint(options: dict[str, str | None]) -> dict[str, Any]:
    """Measure the profile; returns the JSON-ready result."""

    from seqnet.data import build_task
    from seqnet.gradients import measure_profile
    from seqnet.models import build_model
    from seqnet.plugins import load_plugins
    from seqnet.training.checkpoint import load_checkpoint
    from seqnet.training.device import configure_cpu, resolve_device

    load_plugins()  # the checkpoint may hold a model or task that a plugin registers
    device = resolve_device(str(options["device"]))
    if device.type == "cpu":
        configure_cpu(True)
    ckpt_path = str(options["ckpt"])
    checkpoint = load_checkpoint(ckpt_path, map_location=device)
    config = checkpoint["config"]
    data_cfg = dict(config["data"])
    if options["seq_len"] is not None:
        data_cfg["seq_len"] = int(options["seq_len"])
    batch_size = int(str(options["batch_size"]))
    if "val_size" in data_cfg:  # held-out sets are drawn block by block: the head is the same
        data_cfg["val_size"] = max(int(data_cfg["val_size"]), batch_size)
    task = build_task(data_cfg, device)
    model = build_model(config["model"], task.spec).to(device)
    model.load_state_dict(checkpoint["model"])
    x, y = task.val_set()
    profile = measure_profile(
        model,
        task,
        (x[:batch_size], y[:batch_size]),
        int(checkpoint["step"]),
        dtype=str(options["dtype"]),
        loss=str(options["loss"]),
    )
    return {
        "checkpoint": ckpt_path,
        "step": profile.step,
        "model": config["model"]["name"],
        "data": data_cfg["name"],
        "seq_len": profile.seq_len,
        "batch_size": batch_size,
        "dtype": profile.dtype,
        "loss": options["loss"],
        "norms": {q: profile.norms[q].tolist() for q in profile.norms},
        "summary": {
            q: {
                "log10_ratio": profile.log10_ratio(q),
                "horizon": profile.horizon(q),
                "zero_steps": profile.zero_steps(q),
            }
            for q in profile.norms
        },
    }


def format_table(result: dict[str, Any], columns: int = 5) -> str:
    """log10 norms at a few timesteps plus the summaries, one row per quantity."""
    from seqnet.gradients.profile import log10_floor
    from seqnet.logging.grad_views import depth_timesteps

    seq_len = result["seq_len"]
    times = depth_timesteps(seq_len, columns)
    head = ["quantity", *(f"t={t}" for t in times), "log10_ratio", "horizon", "zeros"]
    rows = [head]
    for q, norms in result["norms"].items():
        arr = np.asarray(norms)
        with np.errstate(divide="ignore"):
            logs = np.where(arr > 0, np.log10(np.where(arr > 0, arr, 1.0)), -np.inf)
        cells = [f"{logs[t]:.2f}" if np.isfinite(logs[t]) else "zero" for t in times]
        s = result["summary"][q]
        rows.append([q, *cells, f"{s['log10_ratio']:.2f}", str(s["horizon"]), str(s["zero_steps"])])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    floor = log10_floor(result["dtype"])
    title = (
        f"{result['model']} on {result['data']} (T={seq_len}), step {result['step']}: "
        f"log10 ||dL/dq(t)||, {result['dtype']}, loss={result['loss']}, "
        f"batch {result['batch_size']} (zero = underflow; summaries use {floor:g} for it)"
    )
    return "\n".join([title, *lines])


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    try:
        options = parse_args(args)
        result = profile_checkpoint(options)
    except (SeqnetError, ValueError, KeyError) as e:
        print(f"seqnet-grads: error: {str(e).strip(chr(39))}", file=sys.stderr)
        return 2
    out = Path(
        options["out"]
        or Path(str(options["ckpt"])).with_name(f"{Path(str(options['ckpt'])).stem}_grads.json")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(format_table(result))
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
