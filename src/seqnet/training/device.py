"""Device selection and CPU set-up."""

from __future__ import annotations

import logging
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


def configure_cpu(flush_denormal: bool) -> None:
    """Flush denormal floats to zero on CPU; call before any tensor work in the process.

    Vanishing gradients pass through the denormal range (below ~1e-38 in float32), where every
    floating-point operation takes a slow microcode path. Measured here (T=200, hidden 128,
    batch 64): a training step without the flush was 6x slower for the tanh RNN on the adding
    problem, and 10x (LSTM) and 5.5x (GRU) on Gaussian inputs. The flag is per thread; the
    intra-op worker threads inherit it only if they start after it is set, hence first thing.
    """
    torch.set_flush_denormal(flush_denormal)


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
