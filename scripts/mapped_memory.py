#!/usr/bin/env python
"""The resident memory of a data=arrays run on an .npy input larger than it should hold.

    python scripts/mapped_memory.py                       # 2 GiB x.npy in /tmp, 20 steps
    python scripts/mapped_memory.py --gib 4 --folder /scratch --steps 50

Writes a folder with x.npy (float32, (N, 256, 32): ``--gib`` GiB, written a block at a time),
y.npy (10 classes) and lengths.npy into ``--folder``, trains an LSTM (hidden 64) on it for
``--steps`` steps with data=arrays in a child process (validation at the end, over the
default 10% validation split, and gradient profiles at steps 0 and the last), and prints the
child's peak resident memory (VmHWM) with its anonymous and file-backed parts at the end
(RssAnon, RssFile), then deletes the folder. The same run on a file of 1,024 sequences comes
first: what the process needs whatever the data (PyTorch, Hydra, TensorBoard), so that the
difference is what the large file costs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

STEPS, FEATURES = 256, 32
CHILD = r"""
import json, sys, time
from seqnet.runner import run
started = time.perf_counter()
result = run(sys.argv[2:])
status = dict(l.split(":", 1) for l in open("/proc/self/status").read().splitlines() if ":" in l)
kib = {k: int(status[k].split()[0]) for k in ("VmHWM", "VmRSS", "RssAnon", "RssFile")}
print(json.dumps({"kib": kib, "seconds": time.perf_counter() - started,
                  "val_loss": result.metrics["val/loss"]}))
"""


def write_arrays(folder: Path, gib: float) -> tuple[int, int]:
    """x.npy of about ``gib`` GiB, written a block of rows at a time; y.npy; lengths.npy."""
    row_bytes = STEPS * FEATURES * 4
    n = int(gib * 2**30) // row_bytes
    x = np.lib.format.open_memmap(folder / "x.npy", mode="w+", dtype=np.float32,
                                  shape=(n, STEPS, FEATURES))  # fmt: skip
    rng = np.random.default_rng(0)
    block = max(1, (64 << 20) // row_bytes)
    for start in range(0, n, block):
        stop = min(n, start + block)
        x[start:stop] = rng.standard_normal((stop - start, STEPS, FEATURES), dtype=np.float32)
    x.flush()
    del x
    np.save(folder / "y.npy", rng.integers(0, 10, n))
    np.save(folder / "lengths.npy", rng.integers(STEPS // 2, STEPS + 1, n))
    return n, (folder / "x.npy").stat().st_size


def measure(parent: Path, gib: float, steps: int) -> dict | None:
    """One child run on a fresh file of ``gib`` GiB: its report, printed; None if it failed."""
    folder = Path(tempfile.mkdtemp(prefix="seqnet-mapped-", dir=parent))
    try:
        n, size = write_arrays(folder, gib)
        overrides = [
            "data=arrays", f"data.path={folder}", "model=lstm", "model.hidden_size=64",
            f"trainer.max_steps={steps}", f"trainer.val_every_n_steps={steps}",
            f"trainer.ckpt_every_n_steps={steps}", f"grad_log.every_n_steps={steps}",
            "grad_log.batch_size=16", "trainer.progress_bar=false",
            f"hydra.run.dir={folder / 'run'}",
        ]  # fmt: skip
        started = time.perf_counter()
        child = subprocess.run([sys.executable, "-c", CHILD, "--", *overrides],
                               capture_output=True, text=True)  # fmt: skip
        if child.returncode != 0:
            print(child.stderr[-3000:], file=sys.stderr)
            return None
        report = json.loads(child.stdout.strip().splitlines()[-1])
        mib = {k: v / 1024 for k, v in report["kib"].items()}
        print(
            f"x.npy: {size / 2**30:.2f} GiB ({n} sequences x {STEPS} steps x {FEATURES} values, "
            f"float32); {steps} training steps, batch 64, validation over "
            f"{round(0.1 * n)} sequences: {report['seconds']:.0f} s in the run "
            f"({time.perf_counter() - started:.0f} s with start-up)\n"
            f"  peak resident memory (VmHWM) {mib['VmHWM']:.0f} MiB; at the end: resident "
            f"{mib['VmRSS']:.0f} MiB (anonymous {mib['RssAnon']:.0f}, file-backed "
            f"{mib['RssFile']:.0f})",
            flush=True,
        )
        return {"n": n, "size": size, "mib": mib}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gib", type=float, default=2.0)
    p.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()))
    p.add_argument("--steps", type=int, default=20)
    args = p.parse_args()
    reports = []
    for gib in (1024 * STEPS * FEATURES * 4 / 2**30, args.gib):
        report = measure(args.folder, gib, args.steps)
        if report is None:
            return 1
        reports.append(report)
    (small, large) = reports
    extra = large["mib"]["VmHWM"] - small["mib"]["VmHWM"]
    print(
        f"the same run on {small['n']} sequences: peak {small['mib']['VmHWM']:.0f} MiB; the "
        f"{large['size'] / 2**30:.2f} GiB file costs {extra:.0f} MiB more "
        f"({extra / (large['size'] / 2**20):.1%} of its size)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
