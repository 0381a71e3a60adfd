"""Device selection and CPU set-up."""

from __future__ import annotations

import ctypes
import logging
import platform
import re

import torch

from seqnet.errors import ConfigError

log = logging.getLogger(__name__)


def resolve_device(name: str, key: str = "trainer.device") -> torch.device:
    """``auto`` -> cuda when available, else cpu; ``cpu``; ``cuda``; ``cuda:N``. Errors name the
    setting as ``key`` (the config key, or a command's own argument)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if re.fullmatch(r"cuda(:\d+)?", name):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"{key}={name} but CUDA is not available on this machine; "
                f"use {key}=cpu or {key}=auto"
            )
        device = torch.device(name)
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(
                f"{key}={name} but this machine has {torch.cuda.device_count()} "
                f"CUDA device(s); use {key}=cuda"
            )
        return device
    raise ConfigError(f"{key}={name!r} is not a device; use one of auto, cpu, cuda, cuda:N")


def configure_cpu(flush_denormal: bool, reuse_memory: bool = True) -> None:
    """Flush denormal floats to zero on CPU, and (``reuse_memory``) keep freed memory in the
    process (``reuse_cpu_memory``); call before any tensor work in the process.

    Vanishing gradients pass through the denormal range (below ~1e-38 in float32), where every
    floating-point operation takes a slow microcode path: without the flush a training step
    can be several times slower, by how much depends on the CPU (``scripts/bench.py --only
    denormal``; the docs' performance page). The flag is per thread; the
    intra-op worker threads inherit it only if they start after it is set, hence first thing.
    """
    torch.set_flush_denormal(flush_denormal)
    if reuse_memory and not reuse_cpu_memory():
        log.info("trainer.reuse_cpu_memory: not glibc, so the C library's defaults stay")


# glibc's mallopt parameters (malloc.h).
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -2, -3, -4
#: Blocks up to this size come from the heap rather than from a fresh mmap (glibc's maximum).
MMAP_THRESHOLD = 32 << 20
#: How many blocks may be served by mmap at once: none, so blocks above the 32 MiB threshold
#: (the engine's whole-sequence buffers at T=800, oneDNN's LSTM workspace) come from the heap
#: too and are reused, instead of being mapped, faulted in and unmapped at every step.
MMAP_MAX = 0
#: The heap keeps up to this much free memory at its top instead of giving it back to the OS,
#: and grows by this much more than asked.
TRIM_THRESHOLD, TOP_PAD = 1 << 30, 256 << 20


def reuse_cpu_memory() -> bool:
    """Have glibc keep freed memory for the next allocation instead of returning it to the OS.

    A training step allocates its saved activations (tens to hundreds of MB at T=200-800) and
    frees them at the end of the backward pass. By default glibc serves large blocks with fresh
    mmaps and trims the heap's free top, so every step faults in and zeroes new pages, which
    costs the step time and bends its growth in T (``scripts/bench.py --only growth`` and
    ``--no-reuse-memory``; the docs' performance page). glibc maps blocks above 32 MiB afresh
    whatever the threshold, so mmap is switched off too (``MMAP_MAX``): with only the threshold
    the fused ``nn.LSTM`` still faulted in thousands of pages a training step at T=200. The
    process keeps its peak memory, as
    PyTorch's CUDA allocator does on the GPU. False where the C library is not glibc (nothing
    changed then).
    """
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    settings = (
        (M_MMAP_THRESHOLD, MMAP_THRESHOLD),
        (M_MMAP_MAX, MMAP_MAX),
        (M_TRIM_THRESHOLD, TRIM_THRESHOLD),
        (M_TOP_PAD, TOP_PAD),
    )
    return all(mallopt(p, v) == 1 for p, v in settings)


def configure_threads(threads: int | None) -> None:
    """``trainer.threads`` intra-op threads (None: PyTorch's default, one per core).

    Parallel jobs on one machine should share its cores: threads per job x jobs <= cores
    (seqnet-train sets this from the joblib launcher's n_jobs when it is left at null).
    """
    if threads is not None:
        if threads < 1:
            raise ConfigError(f"trainer.threads={threads} must be >= 1, or null for all cores")
        torch.set_num_threads(threads)
    log.info("%d CPU thread(s) per process", torch.get_num_threads())
