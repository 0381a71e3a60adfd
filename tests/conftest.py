"""Shared fixtures: compose the real configs with Hydra's compose API, shrunk for speed. (The
shared functions are in tests/helpers/: runs, subprocesses, reference equations, toy tasks.)"""

from __future__ import annotations

import sys
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


#: This checkout's sources: subprocesses get them first on PYTHONPATH, so that a console script
#: runs this code even where the editable install points at another copy.
SRC = Path(__file__).resolve().parents[1] / "src"


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


def flush_denormal_is_on() -> bool:
    """Whether this thread flushes denormal floats to zero (torch has no getter for the flag):
    with the flush on, the smallest float64 denormal times one reads as zero."""
    return torch.tensor(5e-324, dtype=torch.float64).mul(1.0).item() == 0.0


#: The flag as the process started (off, PyTorch's default). train() and seqnet-grads set it
#: for the whole thread, so every test starts and ends from this state: the suite does not
#: depend on the order in which tests (or module fixtures that train) run.
DENORMAL_FLUSH_AT_START = flush_denormal_is_on()


@pytest.fixture(autouse=True)
def _denormal_flush_reset() -> Iterator[None]:
    torch.set_flush_denormal(DENORMAL_FLUSH_AT_START)
    yield
    torch.set_flush_denormal(DENORMAL_FLUSH_AT_START)


@pytest.fixture(params=[True, False], ids=["flush", "no_flush"])
def flush_denormal(request: pytest.FixtureRequest) -> bool:
    """Runs a test twice: with denormals flushed to zero (as train() does on CPU) and without."""
    torch.set_flush_denormal(request.param)
    assert flush_denormal_is_on() == request.param
    return request.param


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Torch on one thread for the test: beside other processes on 2 cores, OpenMP's spinning
    workers made a tiny char_lm run take 25 s instead of 2 s (measured here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[DictConfig, dict, Path]]:
    """One TINY run per model (rnn, lstm, gru), (cfg, returned metrics, run dir) by model name:
    trained once for the session. Read them; a test that changes a run copies it first."""
    from helpers.runs import trained_runs  # it imports this module: not at the top

    return trained_runs(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="session")
def data_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Small files for every file task (tests/helpers/data_files.py), written once for the
    session: the data keys that read them, by task. Read them; never change them."""
    from helpers.data_files import write_all

    return write_all(tmp_path_factory.mktemp("data_files"))


@pytest.fixture(scope="session")
def seed_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sweep of 2 models x 3 seeds made by ``seqnet-train -m`` (tests/helpers/seed_sweep.py)."""
    from helpers.seed_sweep import (  # it imports this module: not at the top
        SWEEP_OVERRIDES,
        run_sweep,
    )

    root = tmp_path_factory.mktemp("seed_sweep")
    return run_sweep(root / "outputs", *SWEEP_OVERRIDES)


#: The plugin modules the tests import (their own, or examples/): forgotten after each test.
PLUGIN_MODULES = ("seqnet_example_cell", "seqnet_extending", "broken_plugin")


@pytest.fixture
def plugin_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Only the plugins a test names are loaded (none by default, whatever this environment has
    installed: ``use_entry_points``), and whatever they register is forgotten afterwards:
    registries, gradient summaries, ConfigStore schemas, config paths and the plugin modules."""
    from hydra.core.config_store import ConfigStore

    from seqnet import plugins
    from seqnet.data import TASK_REGISTRY
    from seqnet.gradients.summaries import SUMMARIES
    from seqnet.models import MODEL_REGISTRY

    models, tasks, summaries = dict(MODEL_REGISTRY), dict(TASK_REGISTRY), dict(SUMMARIES)
    paths, loaded = list(plugins._config_paths), set(plugins._loaded)
    modules = set(sys.modules)
    use_entry_points(monkeypatch)
    yield
    schemas = ConfigStore.instance().repo["schema"]
    for registry, saved, group in (
        (MODEL_REGISTRY, models, "model"),
        (TASK_REGISTRY, tasks, "data"),
    ):
        for name in set(registry) - set(saved):
            schemas[group].pop(f"{name}.yaml", None)
        registry.clear()
        registry.update(saved)
    SUMMARIES.clear()
    SUMMARIES.update(summaries)
    plugins._config_paths[:] = paths
    plugins._loaded.clear()
    plugins._loaded.update(loaded)
    for name in set(sys.modules) - modules:
        if name.startswith(PLUGIN_MODULES):
            del sys.modules[name]


def use_entry_points(monkeypatch: pytest.MonkeyPatch, *entries: object) -> None:
    """The ``seqnet.plugins`` entry points ``load_plugins`` sees: exactly ``entries``."""
    from seqnet import plugins

    monkeypatch.setattr(plugins, "plugin_entry_points", lambda: list(entries))
