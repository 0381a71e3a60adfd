"""trainer.reuse_cpu_memory: glibc keeps freed memory for the next allocation (see
``seqnet.training.device.reuse_cpu_memory``). Each case runs in a fresh interpreter, since the
setting is per process and cannot be undone."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from conftest import TINY, compose_config
from seqnet.training import device as device_module
from seqnet.training.loop import train

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc")

# Resident memory (MiB) after a block of argv[2] MiB is allocated, touched and freed, against
# before.
PROBE = """
import sys
from seqnet.training.device import reuse_cpu_memory
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20
if sys.argv[1] == "on":
    assert reuse_cpu_memory() is True
before = rss()
block = bytearray(int(sys.argv[2]) << 20)
block[::4096] = b"x" * len(block[::4096])  # touch every page
del block
print(round(rss() - before))
"""


def kept_mib(mode: str, size_mib: int) -> int:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, mode, str(size_mib)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(result.stdout)


@pytest.mark.parametrize("size_mib", [24, 96])
def test_freed_memory_stays_in_the_process_only_with_reuse(size_mib):
    """Without it glibc unmaps a freed large block at once (nothing kept); with it the block
    stays in the heap for the next step (all of it kept). 24 MiB is above glibc's default mmap
    threshold; 96 MiB is above the largest threshold glibc accepts (32 MiB), so only switching
    mmap off keeps it."""
    assert kept_mib("off", size_mib) <= 1
    assert kept_mib("on", size_mib) >= size_mib - 1


@pytest.mark.parametrize("reuse", [True, False])
def test_train_sets_it_from_the_config(tmp_path, monkeypatch, reuse):
    calls = []
    monkeypatch.setattr(device_module, "reuse_cpu_memory", lambda: calls.append(1) or True)
    overrides = [*TINY, "trainer.device=cpu", "trainer.max_steps=1"]
    overrides.append(f"trainer.reuse_cpu_memory={reuse}")
    train(compose_config([*overrides, f"paths.run_dir={tmp_path}"]))
    assert calls == ([1] if reuse else [])
