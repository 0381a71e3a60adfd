"""Shared fixtures: compose the real configs with Hydra's compose API, shrunk for speed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

import seqnet.config  # noqa: F401  (registers schemas and resolvers)
from seqnet.train import CONFIG_DIR

#: Overrides that make a run take a second or two on a laptop CPU.
TINY = [
    "model.hidden_size=16",
    "data.seq_len=12",
    "data.batch_size=8",
    "data.val_size=32",
    "trainer.max_steps=6",
    "trainer.val_every_n_steps=3",
    "trainer.ckpt_every_n_steps=3",
    "trainer.log_every_n_steps=1",
    "trainer.progress_bar=false",
    "grad_log.batch_size=8",
    "grad_log.every_n_steps=3",
]
#: TINY without its data keys, for tasks that do not have seq_len or val_size.
TINY_RUN = [o for o in TINY if not o.startswith("data.")]


def compose_config(overrides: list[str] | None = None) -> DictConfig:
    """The composed ``train`` config (no run directory set: add ``paths.run_dir=...``)."""
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="train", overrides=overrides or [])


@pytest.fixture
def make_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    """``make_cfg(*overrides, run="name")``: a TINY config writing into ``tmp_path/name``."""

    def make(*overrides: str, run: str = "run", tiny: bool = True) -> DictConfig:
        base = TINY if tiny else []
        return compose_config([*base, *overrides, f"paths.run_dir={tmp_path / run}"])

    return make


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Torch on one thread for the test: beside other processes on 2 cores, OpenMP's spinning
    workers made a tiny char_lm run take 25 s instead of 2 s (measured here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
