"""6: producing a training batch against one training step, for every registered task but the
file tasks (``benchmarks/files.py`` measures those on files it writes).

Each task is built from its own default config (``data=<name>``, on the benchmark's device) with
the reference model (LSTM, hidden 128). A repeat times ``BATCHES`` calls of
``task.train_batch(seed, k)`` and ``STEPS`` whole training steps (batch, forward, loss, backward,
Adam), interleaved; the ratio of the medians per call is the share of a step that goes into
making its batch (target: at most 5%, so that data loading does not show in the training step).
"""

from __future__ import annotations

import math

import torch

from benchmarks.harness import Result, run_repeats, summarise, timed
from benchmarks.workload import HIDDEN, LR, SEED, Settings

BATCHES, STEPS = 20, 3  # calls per repeat
TARGET = "<=0.05"


def bench_data(s: Settings, device: torch.device) -> list[Result]:
    """6. One row per registered task (but the file tasks, which need files: measurement
    ``files``): microseconds per batch vs per training step."""
    from seqnet.data import TASK_REGISTRY
    from seqnet.data.files import FileConfig

    built_in = [n for n, e in sorted(TASK_REGISTRY.items()) if not issubclass(e.config, FileConfig)]
    return [bench_task(name, s, device) for name in built_in]


def bench_task(
    name: str, s: Settings, device: torch.device, data: list[str] | None = None, label: str = "6"
) -> Result:
    from hydra import compose, initialize_config_dir

    from seqnet.data import build_task
    from seqnet.models import build_model
    from seqnet.train import CONFIG_DIR

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(
            config_name="train",
            overrides=[f"data={name}", *(data or []), "model=lstm", f"model.hidden_size={HIDDEN}"],
        )
    task = build_task(cfg.data, device)
    torch.manual_seed(SEED)
    model = build_model(cfg.model, task.spec).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    counter = {"batch": 0, "step": 0}

    def batches() -> None:
        for _ in range(BATCHES):
            task.train_batch(SEED, counter["batch"])
            counter["batch"] += 1

    def steps() -> None:
        for _ in range(STEPS):
            x, y = task.train_batch(SEED, counter["step"])
            loss = task.loss(model(x, targets=y)[0], y)  # targets: teacher forcing for decoders
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss.item()
            counter["step"] += 1

    steps()  # warm-up: allocator, oneDNN primitives, the first epoch's permutation
    batches()

    def one(r: int) -> dict[str, float]:
        order = [("batch", batches, BATCHES), ("step", steps, STEPS)]
        out = {}
        for key, fn, calls in order if r % 2 == 0 else order[::-1]:
            out[key] = 1e6 * timed(device, fn)[0] / calls
        return out

    ms, used_busy, details = summarise(
        run_repeats(label, one, s.profile_repeats), s.profile_repeats
    )
    x, _ = task.train_batch(SEED, 0)
    details["shape"] = f"{name}: x {tuple(x.shape)} {str(x.dtype).removeprefix('torch.')}"
    return Result(
        f"{label} {name}: training batch vs training step",
        "batch",
        ms["batch"],
        "step",
        ms["step"],
        "us",
        TARGET if math.isfinite(ms["batch"]) else "info",
        used_busy,
        details,
    )
