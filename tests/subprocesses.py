"""Running seqnet-train (and torchrun) as users do: in a subprocess, from a folder of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.plugins.hparams import plugin_data_pb2

from conftest import SRC


def seqnet_env(**extra: str) -> dict[str, str]:
    """This environment with this checkout's sources first on PYTHONPATH (the subprocess runs
    this code even where the editable install points at another copy),
    with one OpenMP thread per process: beside others on a 2-core machine, spinning worker
    threads slow every process down."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env.pop("HYDRA_FULL_ERROR", None)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.update(extra)
    return env


def train_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "seqnet.train", *args]


def start_train(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``python -m seqnet.train ARGS`` started in ``cwd`` (text pipes for stdout and stderr)."""
    return subprocess.Popen(
        train_command(*args),
        cwd=cwd,
        env=env or seqnet_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_train(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        train_command(*args),
        cwd=cwd,
        env=seqnet_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def hparams_sessions(run_dir: Path) -> list[dict[str, object]]:
    """Every HPARAMS session-start entry in a run's ``tb/`` event files, as {key: value}."""
    sessions = []
    for events in sorted((run_dir / "tb").glob("events.out.tfevents.*")):
        for event in EventFileLoader(str(events)).Load():
            for value in event.summary.value:
                if value.tag == "_hparams_/session_start_info":
                    data = plugin_data_pb2.HParamsPluginData.FromString(
                        value.metadata.plugin_data.content
                    )
                    hparams = data.session_start_info.hparams
                    sessions.append(
                        {k: getattr(v, v.WhichOneof("kind")) for k, v in hparams.items()}
                    )
    return sessions


def scalar_series(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar tag in a run's ``tb/`` event files: [(step, value), ...] as written."""
    acc = EventAccumulator(str(run_dir / "tb"), size_guidance={"scalars": 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def only_child(folder: Path) -> Path:
    children = list(folder.iterdir())
    assert len(children) == 1, children
    return children[0]
