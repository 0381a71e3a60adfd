"""What a benchmark ran on: the CPU model and its vector extensions (the engine's speed against
oneDNN's fused kernels depends on them), the software versions, the date and the command, printed
with every run and kept in its ``--json`` report (the docs' performance page is made from those
reports)."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

#: The vector extensions that matter for PyTorch's CPU kernels, as /proc/cpuinfo names them.
EXTENSIONS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_family(flags: set[str]) -> str:
    """The family the docs keep one table for: AVX-512/AMX, AVX-512, AVX2 or other."""
    if "avx512f" in flags:
        return "AVX-512/AMX" if "amx_tile" in flags else "AVX-512"
    return "AVX2" if "avx2" in flags else "other"


#: Environment variables that hold PyTorch's, oneDNN's and MKL's kernels to fewer vector
#: extensions than the CPU has: set together (to AVX2 on an AVX-512 CPU), they let one machine
#: measure the other family's code paths.
ISA_LIMITS = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")


def measured_family(flags: set[str], limits: dict[str, str]) -> str:
    """The family measured: the CPU's own, or the one ``ISA_LIMITS`` hold PyTorch to."""
    family = cpu_family(flags)
    if not limits:
        return family
    held = {"AVX512": family, "AVX2": "AVX2"}.get(torch.backends.cpu.get_cpu_capability(), "other")
    return f"{held} (an {family} CPU held to it by {', '.join(limits)})"


def engine_kernels() -> str:
    """Which form of the engine's kernels runs: C++ for a capability, or pure PyTorch."""
    from seqnet.models.kernels import native

    if native.ops() is None or not native.enabled():
        return "pure PyTorch"
    return f"C++ ({native.capability()})"


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def describe_machine(device: torch.device) -> dict[str, Any]:
    flags = cpu_flags()
    limits = {name: os.environ[name] for name in ISA_LIMITS if os.environ.get(name)}
    info: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "command": "python scripts/bench.py " + " ".join(sys.argv[1:]),
        "cpu": cpu_model(),
        "cpu_family": measured_family(flags, limits),
        "cpu_extensions": [e for e in EXTENSIONS if e in flags],
        "isa_limits": limits,
        "engine_kernels": engine_kernels(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onednn": torch.backends.mkldnn.is_available(),
        "commit": git_commit(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
        info["cudnn"] = torch.backends.cudnn.version()
    return info


def machine_line(info: dict[str, Any]) -> str:
    extensions = ", ".join(info["cpu_extensions"]) or "none of " + ", ".join(EXTENSIONS)
    line = f"CPU {info['cpu']} ({info['cpu_family']}: {extensions}), {info['cpus']} CPUs"
    if info.get("isa_limits"):
        line += " (" + ", ".join(f"{k}={v}" for k, v in info["isa_limits"].items()) + ")"
    line += f"; engine kernels: {info['engine_kernels']}"
    if "gpu" in info:
        line += f"; GPU {info['gpu']} (CUDA {info['cuda']}, cuDNN {info['cudnn']})"
    return line
