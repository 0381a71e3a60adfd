"""Running seqnet's commands as users do: in a subprocess, from a folder of its own, with this
checkout's sources first on PYTHONPATH (the subprocess runs this code even where the editable
install points at another copy) and one OpenMP thread per process: beside other processes on a
2-core machine, OpenMP's spinning workers made a debug=fast run take 27 s instead of 4 s
(measured here)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import SRC


def seqnet_env(**extra: str) -> dict[str, str]:
    """This environment for a seqnet subprocess (the short error messages users see: no
    HYDRA_FULL_ERROR), updated with ``extra``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env.pop("HYDRA_FULL_ERROR", None)
    env.setdefault("OMP_NUM_THREADS", "1")
    env.update(extra)
    return env


def console_script(name: str) -> str:
    """An installed console script (seqnet-train, seqnet-compare, ...): next to this
    interpreter, else on PATH."""
    script = Path(sys.executable).parent / (f"{name}.exe" if os.name == "nt" else name)
    found = str(script) if script.is_file() else shutil.which(name)
    assert found, f"{name} is not installed: pip install -e ."
    return found


def run_script(
    name: str, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``name args...`` (a console script) as a user runs it."""
    return subprocess.run(
        [console_script(name), *args],
        cwd=cwd,
        env=env or seqnet_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def train_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "seqnet.train", *args]


def seqnet_train(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m seqnet.train ARGS`` run in ``cwd``, whatever its exit status."""
    return subprocess.run(
        train_command(*args), cwd=cwd, env=seqnet_env(), capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def run_train(cwd: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``seqnet_train`` that must succeed."""
    result = seqnet_train(cwd, *args, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


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


def declare_plugin(site: Path, distribution: str, entry_point: str, module: str) -> None:
    """Make ``site`` (a folder to put on PYTHONPATH) declare a ``seqnet.plugins`` entry point
    ``entry_point = module``, as an installed distribution does: its ``.dist-info`` folder."""
    info = site / f"{distribution.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[seqnet.plugins]\n{entry_point} = {module}\n")
